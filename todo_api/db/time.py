"""Time: the queries in sql/time_*.sql (a task's own schedule is written by db/tasks.py)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Runner
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

TIME_REMINDERS = query("time_reminders")


async def reminders_between(
    db: Runner, caller: Caller, start: datetime, end: datetime
) -> tuple[UserStatus, list[asyncpg.Record]]:
    """The caller's reminders firing in [start, end), soonest first."""
    records = await db.fetch(*TIME_REMINDERS(**caller.params, from_at=start, to_at=end))
    head = records[0]
    rows = [r for r in records if r["task_id"] is not None]
    return status_of(head["is_active"], head["may_act"]), rows
