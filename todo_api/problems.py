"""RFC 9457 problem+json: the one shape of every error. A leaf, like Starlette's exceptions.py:
it imports nothing of ours, so any layer can raise a Problem; the handlers that turn other
layers' exceptions into problems live in handlers.py, wired where the app is (app.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

PROBLEM_MEDIA_TYPE = "application/problem+json"


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


class ProblemResponse(Response):
    """A problem body; `request_id` is filled in when sent, from the scope, so any layer can
    make one without knowing the request."""

    media_type = PROBLEM_MEDIA_TYPE

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.problem: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }
        if errors is not None:
            self.problem["errors"] = list(errors)
        super().__init__(orjson.dumps(self.problem), status_code=status, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_of(scope)
        if request_id is not None:
            self.problem["request_id"] = request_id
            self.body = orjson.dumps(self.problem)
            self.headers["content-length"] = str(len(self.body))
        await super().__call__(scope, receive, send)


class Problem(Exception):
    """Raised anywhere below the routes to answer with a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers


def _respond(problem: Problem) -> Response:
    return ProblemResponse(
        problem.status, problem.detail, errors=problem.errors, headers=problem.headers
    )


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return _respond(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (and any HTTPException), as problems; headers (Allow) kept."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        detail = f"No resource at {request.url.path}"
    elif exc.status_code == 405:
        detail = f"Method {request.method} is not allowed on {request.url.path}"
    else:
        detail = exc.detail
    return _respond(Problem(exc.status_code, detail, headers=exc.headers))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """The last resort: a 500 problem with no detail of the cause (the log has it)."""
    return _respond(Problem(500, "An unexpected error occurred; it has been logged"))
