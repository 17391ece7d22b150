"""Starlette's CORS middleware, with its refused preflights answered as problems."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from todo_api.problems import ProblemResponse

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSED_HEADERS = ("Link", "X-Total-Count", "X-Request-ID", "Location")
PREFLIGHT_MAX_AGE = 600


class ProblemCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = f"{bytes(response.body).decode()}; this preflight request is refused"
        headers = {
            k: v for k, v in response.headers.items() if k not in {"content-type", "content-length"}
        }
        return ProblemResponse(400, detail, headers=headers)
