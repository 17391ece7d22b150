"""The HTTP protocol uvicorn runs for us: its httptools protocol with the guards it lacks.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) and the number of connections
and requests at once (`limit_concurrency`, answered 503), but a request whose line and headers
trickle in (or never come) holds its connection forever, and its 503 is plain text. Here a
request's head must arrive within `header_timeout_seconds` of its first byte (of the connection,
for the first request) and fit in MAX_HEADER_BYTES; otherwise the client gets a 408 or 431
problem and the connection is closed. The 503 for too many connections is a problem too.
Bodies that trickle in are bounded by the body-limit middleware, and clients that stop reading
a response by the request-context middleware (`send_timeout_seconds`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Final

import orjson
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from todo_api.middleware.request_context import (
    FLOW_CONTROL,
    SHUTDOWN_HOOKS,
    RequestContextMiddleware,
)
from todo_api.problems import ProblemResponse

MAX_HEADER_BYTES: Final = 16 * 1024  # request line and headers; nginx's default is 8 KiB
HEADER_TIMEOUT_SECONDS: Final = 10.0
_TOO_LARGE: Final = f"The request line and headers are larger than {MAX_HEADER_BYTES} bytes"
PROTOCOL: Final = "todo_api.serving:GuardedHttpToolsProtocol"  # for uvicorn's `http`


async def _too_busy(scope: Any, receive: Any, send: Any) -> None:
    detail = "The server has too many connections; try again shortly"
    headers = {"Retry-After": "1", "Connection": "close"}
    await ProblemResponse(503, detail, headers=headers)(scope, receive, send)


TOO_BUSY: Final = RequestContextMiddleware(_too_busy)


def _problem_bytes(status: int, detail: str) -> bytes:
    """A whole response, written straight to the socket: there is no request to answer yet."""
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }
    )
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Set from the settings in each worker, by configure_protocol.
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
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
            self.logger.warning("refused a request: %s", detail)
            self.transport.write(_problem_bytes(status, detail))
            self.transport.close()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._reading_head:
            self._refuse(408, "The request line and headers did not arrive in time")

    def data_received(self, data: bytes) -> None:
        if self._refused:
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

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        cycle.scope[FLOW_CONTROL] = self.flow  # request_context.py: when a send may wait
        cycle.scope[SHUTDOWN_HOOKS] = self._shutdown_hooks
        # uvicorn answers the request over `limit_concurrency` with a plain-text 503 of its own.
        chosen: Any = TOO_BUSY if app is service_unavailable else app
        super()._start_asgi_task(cycle, chosen)


def configure_protocol(header_timeout_seconds: float) -> None:
    """Called in each worker with its settings, before it accepts a connection."""
    GuardedHttpToolsProtocol.header_timeout_seconds = header_timeout_seconds
