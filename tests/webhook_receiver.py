"""A webhook receiver for the tests: a real HTTP server on a loopback socket, in a thread of
its own (so it answers whatever the test's event loop is doing, and a server process the test
started as well). Each request is recorded and its signature checked with the
`standardwebhooks` library, as a receiver would; how it answers is the test's choice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Answer:
    """How to answer one request: a status, after `delay` seconds; `trickle` sends the
    response one byte every `trickle` seconds (each read arrives in time, the whole does not);
    `hold` waits for that event before answering (a delivery kept in the middle)."""

    status: int = 200
    delay: float = 0.0
    trickle: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None  # None: no secret to check with
    at: float
    peer_port: int  # the sender's end of the connection (which process sent it)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """`answer(n, path)` says how to answer the n-th request (from 0); `secrets` are the
    secrets a signature may be made with (the current one first)."""

    def __init__(
        self,
        answer: Callable[[int, str], Answer] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.answer = answer or (lambda n, path: Answer())
        self.secrets: list[str] = []
        self.received: list[Received] = []
        self.arrived = threading.Event()  # set on every request
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender went away mid-request (a killed process)
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    n = len(receiver.received)
                    receiver.received.append(
                        Received(
                            self.path,
                            headers,
                            body,
                            receiver._verify(body, headers),
                            time.monotonic(),
                            self.client_address[1],
                        )
                    )
                receiver.arrived.set()
                answer = receiver.answer(n, self.path)
                if answer.hold is not None:
                    answer.hold.wait(60)
                time.sleep(answer.delay)
                payload = b'{"ok": true}'
                try:
                    if answer.trickle:
                        raw = (
                            f"HTTP/1.1 {answer.status} X\r\nContent-Length: {len(payload)}\r\n\r\n"
                        ).encode() + payload
                        for i in range(len(raw)):
                            self.wfile.write(raw[i : i + 1])
                            self.wfile.flush()
                            time.sleep(answer.trickle)
                        return
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender went away (a timeout, a killed process)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many senders at once (the default backlog is 5)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _verify(self, body: bytes, headers: dict[str, str]) -> bool | None:
        if not self.secrets:
            return None
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(body, headers)
                return True
        return False

    def url(self, path: str = "/hook", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """The requests once at least `count` have come (else AssertionError); the test's event
        loop (and an app's worker in it) runs meanwhile."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests came, not {count}")

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def receiving(**kwargs: Any) -> Iterator[Receiver]:
    with Receiver(**kwargs) as receiver:
        yield receiver
