"""The HTTP protocol uvicorn runs for us: its httptools protocol with the guards it lacks.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) and the number of connections
and requests at once (`limit_concurrency`, answered 503), but a request whose line and headers
trickle in (or never come) holds its connection forever, and its 503 is plain text. Here a
request's head must arrive within `header_timeout_seconds` of its first byte (of the connection,
for the first request) and fit in MAX_HEADER_BYTES; otherwise the client gets a 408 or 431
problem and the connection is closed. The 503 for too many connections is a problem too, and so
is the 400 for a request the HTTP parser cannot read; every response written here carries an
X-Request-ID (the client's when its head had a well-formed one) and, in its body, that
request_id, as every response of the app does.

uvicorn's connection limit counts every connection together, so one client address holding
idle sockets could take all of them. Here each worker also counts the connections of each
client (TCP peer) address: past `max_connections_per_address`, a new connection from that
address is closed at once, before uvicorn counts it, and other addresses are not affected.
Behind a proxy every connection comes from the proxy's address: give it room (the setting, or
the proxy's own limits).

Bodies that trickle in are bounded by the body-limit middleware, and clients that stop reading
a response by the request-context middleware (`send_timeout_seconds`).

A response with a Content-Length leaves in one write to the socket, its head with its body
(uvicorn writes them apart: one system call more for every request)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, ClassVar, Final

import orjson
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from todo_api.middleware.request_context import (
    FLOW_CONTROL,
    SHUTDOWN_HOOKS,
    RequestContextMiddleware,
    request_id_for,
)
from todo_api.problems import ProblemResponse

MAX_HEADER_BYTES: Final = 16 * 1024  # request line and headers; nginx's default is 8 KiB
HEADER_TIMEOUT_SECONDS: Final = 10.0
MAX_CONNECTIONS_PER_ADDRESS: Final = 100
_UNPARSABLE: Final = "The request is not valid HTTP/1.1"
_TOO_LARGE: Final = f"The request line and headers are larger than {MAX_HEADER_BYTES} bytes"
PROTOCOL: Final = "todo_api.serving:GuardedHttpToolsProtocol"  # for uvicorn's `http`
ONE_WRITE_PROTOCOL: Final = "todo_api.serving:OneWriteHttpToolsProtocol"  # the floors'


async def _too_busy(scope: Any, receive: Any, send: Any) -> None:
    detail = "The server has too many connections; try again shortly"
    headers = {"Retry-After": "1", "Connection": "close"}
    await ProblemResponse(503, detail, headers=headers)(scope, receive, send)


TOO_BUSY: Final = RequestContextMiddleware(_too_busy)


def _problem_bytes(status: int, detail: str, request_id: str) -> bytes:
    """A whole response, written straight to the socket: there is no request to answer yet."""
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "request_id": request_id,
        }
    )
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nx-request-id: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


class _HeadWithBody:
    """A request's view of the connection's transport that writes a sized response's head
    together with its body: uvicorn writes the head (on http.response.start) and the body (on
    http.response.body) separately, two system calls and often two TCP segments for one small
    response; here the head is held until the body's first write, which follows at once (a
    sized response sends its body straight after its start). Only a head that announces a
    Content-Length is held: a streamed response (an event stream) has its head written at
    once, and a HEAD request's response (never followed by a body write) is not wrapped."""

    __slots__ = ("_head", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._started = False  # a response head went by (held or written)

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._started and data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n"):
            if data.startswith(b"HTTP/1.1 100 "):  # an interim response: the real one follows
                self._transport.write(data)
                return
            self._started = True
            if b"\r\ncontent-length: " in data:
                self._head = data
                return
        self._transport.write(data)

    def close(self) -> None:
        self._head = None  # a head whose body never came: the response is abandoned anyway
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a sized response's head and body in one write. Both
    benchmark floors run on it too (bench/processes.py), so that their ratios measure what the
    service does above the HTTP server, not this."""

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if cycle.scope["method"] != "HEAD":
            cycle.transport = _HeadWithBody(cycle.transport)
        super()._start_asgi_task(cycle, app)


class GuardedHttpToolsProtocol(OneWriteHttpToolsProtocol):
    # Set from the settings in each worker, by configure_protocol.
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS
    max_connections_per_address: int = MAX_CONNECTIONS_PER_ADDRESS
    # This worker's open connections by client address (addresses with none are dropped).
    connections_by_address: ClassVar[dict[str, int]] = {}

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        self._address: str | None = peer[0] if isinstance(peer, tuple) and peer else None
        if self._address is not None:
            held = self.connections_by_address.get(self._address, 0)
            if held >= self.max_connections_per_address:
                # Refused before uvicorn knows of it: it never counts against anyone else.
                self._address = None
                self._turned_away = True
                transport.close()
                return
            self.connections_by_address[self._address] = held + 1
        self._turned_away = False
        super().connection_made(transport)
        self._head_bytes = 0
        self._reading_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._shutdown_hooks: list[Callable[[], None]] = []
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.header_timeout_seconds, self._head_too_slow
            )

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int, detail: str) -> None:
        self._refused = True  # what the parser still finds in this read is dropped
        self._disarm_head_timer()
        if not self.transport.is_closing():
            # The client's X-Request-ID when its head got that far, else a new one.
            request_id = request_id_for({"headers": self.headers or ()})
            self.logger.warning("refused a request: %s (request_id=%s)", detail, request_id)
            self.transport.write(_problem_bytes(status, detail, request_id))
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """What uvicorn answers a request its parser rejects: a problem here."""
        self._refuse(400, _UNPARSABLE)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._reading_head:
            self._refuse(408, "The request line and headers did not arrive in time")

    def data_received(self, data: bytes) -> None:
        if self._refused or self._turned_away:
            return
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > MAX_HEADER_BYTES:
            self._refuse(
                431, f"The request line and headers are larger than {MAX_HEADER_BYTES} bytes"
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._head_bytes = 0
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._disarm_head_timer()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEADER_BYTES:  # a head that came whole in one read
            self._refuse(431, _TOO_LARGE)
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def shutdown(self) -> None:
        """uvicorn begins a graceful shutdown: a response that would never end (an event
        stream) ends now, instead of holding the shutdown up until its timeout."""
        for hook in list(self._shutdown_hooks):
            hook()
        super().shutdown()

    def _release_address(self) -> None:
        """The connection no longer counts against its address (once)."""
        if self._address is not None:
            left = self.connections_by_address[self._address] - 1
            if left:
                self.connections_by_address[self._address] = left
            else:
                del self.connections_by_address[self._address]
            self._address = None

    def handle_websocket_upgrade(self) -> None:
        # Another protocol takes the connection over: this one never hears of its end.
        self._release_address()
        self._disarm_head_timer()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._turned_away:
            return
        self._release_address()
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        cycle.scope[FLOW_CONTROL] = self.flow  # request_context.py: when a send may wait
        cycle.scope[SHUTDOWN_HOOKS] = self._shutdown_hooks
        # uvicorn answers the request over `limit_concurrency` with a plain-text 503 of its own.
        chosen: Any = TOO_BUSY if app is service_unavailable else app
        super()._start_asgi_task(cycle, chosen)


def configure_protocol(
    header_timeout_seconds: float, max_connections_per_address: int = MAX_CONNECTIONS_PER_ADDRESS
) -> None:
    """Called in each worker with its settings, before it accepts a connection."""
    GuardedHttpToolsProtocol.header_timeout_seconds = header_timeout_seconds
    GuardedHttpToolsProtocol.max_connections_per_address = max_connections_per_address
