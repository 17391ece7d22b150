"""The outermost layer: gives every request an id (echoed when the client's is well-formed),
puts it on every response, writes one access-log line, and turns anything that escaped every
other layer into a 500 problem. It wraps the whole Starlette app, ServerErrorMiddleware
included, so 500s carry the id too. A client that stops reading the response for
`send_timeout` seconds is let go (499), so it cannot hold a request open forever. Given an
`observe` function (app.py: the metrics' recorder, when METRICS is on), it hands it each
request's method, route template, status and duration, as the access-log line has them."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.logs import access_log
from todo_api.middleware import raw_header
from todo_api.problems import ProblemResponse

_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")

error_log = logging.getLogger("todo_api.error")


# Generated ids: a random prefix per process and a counter, unique without a syscall per request.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(1)


# The scope key under which serving.py's protocol hands over the connection's flow control.
FLOW_CONTROL = "todo_api.flow_control"


def request_id_for(scope: Scope) -> str:
    offered = raw_header(scope, b"x-request-id")
    if offered is not None and _VALID_REQUEST_ID.fullmatch(offered):
        return offered.decode()
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


class ClientNotReading(Exception):
    """The client took no part of the response for `send_timeout` seconds."""


# method, route template (None: no route took the request), status, seconds
Observer = Callable[[str, str | None, int, float], None]


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, send_timeout: float = 30.0, observe: Observer | None = None
    ) -> None:
        self.app = app
        self.send_timeout = send_timeout
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        request_id_header = (b"x-request-id", request_id.encode())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0
        # The connection's flow control, when serving.py's protocol hands it over: uvicorn's
        # send waits only while writing is paused, so the send timeout's timer is armed only
        # then (arming one for every message was a measurable share of a fast request).
        flow = scope.get(FLOW_CONTROL)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            if flow is not None and not flow.write_paused:
                await send(message)  # the socket takes it: uvicorn's send cannot wait now
                return
            try:
                # A client that stops reading leaves this waiting for the socket to drain.
                async with asyncio.timeout(self.send_timeout):
                    await send(message)
            except TimeoutError:
                raise ClientNotReading from None

        try:
            await self.app(scope, receive, send_with_id)
        except (ClientNotReading, ClientDisconnect):
            # Not a server error: the connection is dropped (uvicorn closes it when the app
            # returns without finishing the response), or was (the client went away, or the
            # parser refused the rest of its body: serving.py answered that), and the line
            # says 499.
            status = 499
        except Exception:
            error_log.exception(
                "unhandled error", extra={"request_id": request_id, "path": scope.get("path")}
            )
            if status == 0:
                await ProblemResponse(500, "An unexpected error occurred; it has been logged")(
                    scope, receive, send_with_id
                )
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"]
            # The route the router matched (a Mount for the docs assets); none for an unknown
            # path, or a request answered before routing (a CORS preflight).
            route = getattr(scope.get("route"), "path_format", None)
            access_log.write(
                {
                    "request_id": request_id,
                    "method": method,
                    "path": scope.get("path"),
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "pid": os.getpid(),
                }
            )
            if self.observe is not None:
                self.observe(method, route, status, elapsed)
