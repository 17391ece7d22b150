"""Starlette's CORS middleware, with its refused preflights answered as problems."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from todo_api.middleware import raw_header
from todo_api.problems import ProblemResponse

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Request-ID",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    # Round three: EventSource's reconnect (events) and MCP's Streamable HTTP (agents).
    "Last-Event-ID",
    "Mcp-Protocol-Version",
    "Mcp-Session-Id",
)
EXPOSED_HEADERS = (
    "Link",
    "X-Total-Count",
    "X-Request-ID",
    "Location",
    "ETag",
    "Retry-After",
    "Idempotent-Replayed",
    "Mcp-Session-Id",
)
PREFLIGHT_MAX_AGE = 600


class ProblemCORSMiddleware(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Most requests come from no browser: no Origin, nothing for CORS to do.
        if scope["type"] == "http" and raw_header(scope, b"origin") is None:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = f"{bytes(response.body).decode()}; this preflight request is refused"
        headers = {
            k: v for k, v in response.headers.items() if k not in {"content-type", "content-length"}
        }
        return ProblemResponse(400, detail, headers=headers)
