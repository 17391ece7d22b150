"""A rule the database enforced that a model let through: our bug, but the client's request is
still refused properly. The constraint names the field (`tasks_title_check` -> `title`); the
answer is a 422 problem naming it, and the log says which constraint to mirror in the model."""

from __future__ import annotations

import logging
import re
from typing import Final

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from todo_api.problems import ProblemResponse

log = logging.getLogger("todo_api.error")

# Check and not-null constraints, and values the column type refuses (an unknown enum label,
# a date out of range): each a rule the pydantic models should have stated first.
RULE_VIOLATIONS: Final = (
    asyncpg.CheckViolationError,
    asyncpg.NotNullViolationError,
    asyncpg.DataError,
)


def violated_field(exc: asyncpg.PostgresError) -> str | None:
    """The body field a constraint guards: its column, or the middle of `<table>_<field>_check`
    (PostgreSQL's name for a column's CHECK; a second one gets a number)."""
    column = getattr(exc, "column_name", None)
    if column:
        return str(column)
    constraint = getattr(exc, "constraint_name", None) or ""
    table = getattr(exc, "table_name", None) or ""
    named = re.fullmatch(rf"{re.escape(table)}_(\w+?)_check\d*", constraint)
    return named.group(1) if named else None


async def handle_rule_violation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, asyncpg.PostgresError)
    field = violated_field(exc)
    constraint = getattr(exc, "constraint_name", None)
    log.error(
        "the database refused a value the model accepted: %s (%s); mirror it in the model",
        type(exc).__name__,
        constraint or field or "no constraint name",
        extra={"path": request.url.path},
    )
    loc = ["body", field] if field else ["body"]
    error = {"loc": loc, "msg": "Value is not allowed", "type": "value_error"}
    detail = f"Invalid request body: {field or 'a value'} is not allowed"
    return ProblemResponse(422, detail, errors=[error])
