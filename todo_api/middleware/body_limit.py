"""Refuses request bodies over the limit with 413, whether sized by Content-Length or chunked,
and bodies that trickle in for longer than `timeout` seconds with 408."""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.middleware import raw_header
from todo_api.problems import Problem, ProblemResponse

MAX_BODY_BYTES = 65_536
BODY_TIMEOUT_SECONDS = 30.0


def _too_large(limit: int) -> Problem:
    return Problem(413, f"The request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, timeout: float = BODY_TIMEOUT_SECONDS
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = raw_header(scope, b"content-length") or b""
        if declared.isdigit() and int(declared) > self.max_bytes:
            problem = _too_large(self.max_bytes)
            response = ProblemResponse(problem.status, problem.detail)
            await response(scope, receive, send)
            return
        received = 0
        deadline: float | None = None
        body_complete = False

        async def receive_within_limit() -> Message:
            nonlocal received, deadline, body_complete
            if body_complete:
                # The body is all there: what the app waits for now is the client going away
                # (a streamed response listens for it), which has no deadline.
                return await receive()
            if deadline is None:
                deadline = time.monotonic() + self.timeout
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                # The rest of the body may still come: the connection cannot be reused.
                detail = "The request body did not arrive in time"
                raise Problem(408, detail, headers={"Connection": "close"}) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _too_large(self.max_bytes)
                body_complete = not message.get("more_body", False)
            return message

        await self.app(scope, receive_within_limit, send)
