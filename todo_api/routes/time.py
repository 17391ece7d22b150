"""Time: the routes that read schedules: a task's next occurrences and the caller's reminders
in a window (task writes are planned by todo_api/schedules.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from todo_api.db import tasks
from todo_api.db import time as time_db
from todo_api.models.time import (
    OCCURRENCES_LIMIT_DEFAULT,
    OCCURRENCES_LIMIT_MAX,
    REMINDER_WINDOW_DEFAULT,
    REMINDER_WINDOW_MAX,
    OccurrencesOut,
    ReminderDue,
    instant,
    parse_rule,
)
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import AUTHORISED, refuse_user
from todo_api.routes.tasks import _not_found, _task_id, owner_of
from todo_api.services import services


class OccurrencesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: Annotated[int, Field(ge=1, le=OCCURRENCES_LIMIT_MAX)] = OCCURRENCES_LIMIT_DEFAULT


@operation(
    operation_id="listOccurrences",
    summary="The next due dates of a recurring task",
    tag="tasks",
    query=OccurrencesQuery,
    replies=(
        Reply(
            200,
            "The next due dates after the current one, as if each occurrence were completed "
            "on its due date; [] without recurrence or at the last occurrence.",
            OccurrencesOut,
        ),
    ),
    errors=(404, 422, *AUTHORISED),
)
async def list_occurrences(request: Request) -> Response:
    caller = owner_of(request)
    task_id = _task_id(request)
    params = validated(OccurrencesQuery, dict(request.query_params), where="query")
    db = services(request).db
    row = await tasks.get_task(db, caller, task_id)
    if row is None:
        await _not_found(db, caller, task_id)
    dates = []
    if row["recurrence"] is not None and not row["completed"]:
        rule = parse_rule(row["recurrence"])
        dates = rule.upcoming(row["due_date"], row["occurrence"], params.limit)
    return JSONResponse({"dates": [d.isoformat() for d in dates]})


def _window_bound(value: Any) -> Any:
    return instant(value)


class RemindersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    from_: Annotated[datetime, BeforeValidator(_window_bound)] | None = Field(
        None, alias="from", description="An RFC 3339 instant with an offset; default: now."
    )
    to: Annotated[datetime, BeforeValidator(_window_bound)] | None = Field(
        None,
        description="An RFC 3339 instant with an offset, after `from` and at most 31 days "
        "after it; default: 7 days after `from`.",
    )


@operation(
    operation_id="listReminders",
    summary="The caller's reminders that will fire in a window, soonest first",
    tag="tasks",
    query=RemindersQuery,
    replies=(Reply(200, "The reminders, soonest first.", ReminderDue, many=True),),
    errors=(422, *AUTHORISED),
)
async def list_reminders(request: Request) -> Response:
    caller = owner_of(request)
    params = validated(RemindersQuery, dict(request.query_params), where="query")
    start = params.from_ or datetime.now(UTC)
    end = params.to or start + REMINDER_WINDOW_DEFAULT
    if not start <= end <= start + REMINDER_WINDOW_MAX:
        error = {
            "loc": ["query", "to"],
            "msg": "to is from to 31 days after it",
            "type": "window",
        }
        raise Problem(
            422, "Invalid request query: to must be within 31 days after from", errors=[error]
        )
    owner, rows = await time_db.reminders_between(services(request).db, caller, start, end)
    refuse_user(owner)
    return JSONResponse(
        [
            {
                "task_id": r["task_id"],
                "title": r["title"],
                "fires_at": r["fires_at"],
                "due_at": r["due_at"],
            }
            for r in rows
        ]
    )
