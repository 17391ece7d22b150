"""RFC 9457 problem+json: the one shape of every error, and the exception that carries one.

A leaf, like Starlette's exceptions.py: any layer may raise a Problem or send a ProblemResponse,
and this module imports nothing of the app. Which exception becomes which problem is decided
where the app is wired (todo_api/app.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
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

    def response(self) -> ProblemResponse:
        return ProblemResponse(self.status, self.detail, errors=self.errors, headers=self.headers)
