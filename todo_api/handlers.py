"""The exception handlers: what each layer raises, answered as a problem. app.py wires them;
problems.py, the error shape, stays a leaf that imports none of these layers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from todo_api.auth.passwords import RETRY_AFTER_SECONDS, HasherBusy
from todo_api.db.pool import DatabaseUnavailable
from todo_api.problems import (
    Problem,
    ProblemResponse,
    handle_http_exception,
    handle_problem,
    handle_unexpected,
)
from todo_api.rule_violations import RULE_VIOLATIONS, handle_rule_violation

log = logging.getLogger("todo_api")

Handler = Callable[[Request, Exception], Awaitable[Response]]


def database_unavailable(exc: Exception) -> Response:
    """The 503 for an unreachable database, wherever it is met (a route, or the
    authentication backend making a trusted issuer's account)."""
    log.warning("database unavailable: %s", exc)
    detail = "The database is unavailable; try again shortly"
    return ProblemResponse(503, detail, headers={"Retry-After": "1"})


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    return database_unavailable(exc)


async def handle_hasher_busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HasherBusy)
    detail = "The server is busy; try again shortly"
    return ProblemResponse(429, detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


EXCEPTION_HANDLERS: Mapping[type[Exception] | int, Handler] = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    DatabaseUnavailable: handle_database_unavailable,
    HasherBusy: handle_hasher_busy,
    **dict.fromkeys(RULE_VIOLATIONS, handle_rule_violation),
    Exception: handle_unexpected,
}
