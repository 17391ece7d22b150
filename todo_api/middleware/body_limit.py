"""Refuses request bodies over the limit with 413, whether sized by Content-Length or chunked."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.middleware import raw_header
from todo_api.problems import Problem

MAX_BODY_BYTES = 65_536


def _too_large(limit: int) -> Problem:
    return Problem(413, f"The request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = raw_header(scope, b"content-length") or b""
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes).response()(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _too_large(self.max_bytes)
            return message

        await self.app(scope, receive_within_limit, send)
