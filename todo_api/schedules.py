"""How task writes plan a schedule (due time, zone, recurrence, reminders) from what a request
gives and the task as it stands: for every writer of tasks (routes/tasks.py, routes/auth.py
for a new zone, and any other adapter of the task operations, such as MCP tools).

A write that changes a schedule, or completes a pending recurring task with no occurrence
planned ahead, reads the task (with its owner's zone), plans the result
(todo_api/models/time.py) and writes it with one statement that holds only if the task is
still at the version it was planned from and the owner's zone is still the one used: so it is
one atomic change, and a write that lost a race is planned again from what won (an If-Match
then fails as it should: one winner). Each such write also plans the series' next occurrences
ahead (`series_ahead`), which later completions advance to in their own statement
(sql/task_set_completed.sql) without coming here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from todo_api.caller import Caller
from todo_api.db import tasks
from todo_api.db.pool import Runner
from todo_api.models.time import (
    SCHEDULE_FIELDS,
    Planned,
    Refused,
    Schedule,
    due_instant,
    plan,
    reminder_entries,
    schedule_of,
    stored_reminders,
)
from todo_api.problems import Problem

# A write planned from a row that changed meanwhile is planned again; each retry means another
# write committed, so this bound is never reached but by a storm of writes to one task.
MAX_PLANS = 1000


def refused(exc: Refused) -> Problem:
    error = {"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}
    return Problem(422, f"Invalid request body: {exc.field}: {exc.message}", errors=[error])


def stored(
    planned: Planned,
    owner_zone: str | None,
    based_on: int | None,
    given: tuple[str, ...] | None = None,
) -> tasks.Schedule:
    """The planned schedule as the task statements store it (planned from the row at version
    `based_on`; or, with `given`, from a task without a schedule, the fields `given` aside)."""
    s = planned.schedule
    ahead = planned.ahead
    return tasks.Schedule(
        due_time=s.due_time,
        time_zone=s.time_zone,
        due_at=planned.due_at,
        recurrence=s.recurrence,
        recurrence_basis=s.recurrence_basis,
        occurrence=s.occurrence,
        reminders=orjson.dumps(planned.reminders).decode(),
        owner_zone=owner_zone,
        based_on=based_on,
        advanced=planned.advanced,
        ahead_dates=None if ahead is None else ahead.dates,
        ahead_due_at=None if ahead is None else ahead.due_ats,
        ahead_zone=None if ahead is None else ahead.zone,
        ahead_ends=None if ahead is None else ahead.ends,
        given=given,
    )


def scheduled(changes: dict[str, Any]) -> bool:
    """Whether a PUT's changes need a plan: they touch the due date or the schedule."""
    return any(name in changes for name in SCHEDULE_FIELDS)


# The zone each user was last seen with, in this process: a guess that saves a create a round
# trip, never an answer (the insert holds only if it is still the user's zone, else it is
# planned again with the zone read). Bounded: forgotten all at once when full.
_ZONES: dict[str, str] = {}
_ZONES_MAX = 100_000


def seen_zone(user_id: str, zone: str | None) -> None:
    if zone is None:
        _ZONES.pop(user_id, None)
        return
    if len(_ZONES) >= _ZONES_MAX:
        _ZONES.clear()
    _ZONES[user_id] = zone


def guessed_zone(user_id: str) -> str | None:
    return _ZONES.get(user_id)


async def owner_zone(db: Runner, caller: Caller) -> str | None:
    """The caller's time zone (None when they may not act)."""
    zone = await tasks.owner_zone(db, caller)
    seen_zone(caller.user_id, zone)
    return zone


def given_schedule(given: dict[str, Any]) -> dict[str, Any]:
    """The schedule fields a request gave (reminders null: none)."""
    picked: dict[str, Any] = {name: given[name] for name in SCHEDULE_FIELDS if name in given}
    if "reminders" in picked and picked["reminders"] is None:
        picked["reminders"] = []
    return picked


def plan_create(body: Any, owner_zone: str) -> Planned:
    given = given_schedule({name: getattr(body, name) for name in body.model_fields_set})
    given["due_date"] = body.due_date
    try:
        return plan(
            Schedule(),
            given,
            was_completed=body.completed,  # created completed: completed, not advanced
            completed=body.completed,
            owner_zone=owner_zone,
            now=datetime.now(UTC),
        )
    except Refused as exc:
        raise refused(exc) from None


async def rewrite(
    db: Runner,
    caller: Caller,
    task_id: int,
    changes: dict[str, Any],
    completed: bool | None,
    if_match: list[int] | None,
    *,
    flip: bool = False,
    current: asyncpg.Record | None = None,
) -> asyncpg.Record | None:
    """Apply `changes` (a PUT's fields) and set `completed` (None: leave it; with `flip`,
    flip it) to a task (as `current` holds it, if given; else as read), planning
    its schedule from the row as it stands; None when there is no such task of the caller's
    or If-Match does not hold."""
    given = given_schedule(changes)
    plain = {k: v for k, v in changes.items() if k not in SCHEDULE_FIELDS and k != "completed"}
    if current is None and not flip:
        row = await _write_unread(db, caller, task_id, given, plain, completed, if_match)
        if row is not None:
            return row
    for _ in range(MAX_PLANS):
        if current is None:
            current = await tasks.get_task(db, caller, task_id)
            if current is not None:
                seen_zone(caller.user_id, current["owner_time_zone"])
        if current is None or (if_match is not None and current["version"] not in if_match):
            return None
        target = current["completed"] if completed is None else completed
        if flip:
            target = not current["completed"]
        try:
            planned = plan(
                schedule_of(current),
                given,
                was_completed=current["completed"],
                completed=target,
                owner_zone=current["owner_time_zone"],
                now=datetime.now(UTC),
            )
        except Refused as exc:
            raise refused(exc) from None
        row = await tasks.update_task(
            db,
            caller,
            task_id,
            **plain,
            completed=planned.completed,
            due_date=planned.schedule.due_date,
            schedule=stored(planned, current["owner_time_zone"], current["version"]),
            if_match=if_match,
        )
        if row is not None:
            return row
        current = None  # it changed meanwhile: read it again
    raise Problem(503, "The task changed too often to be written; try again")


async def _write_unread(
    db: Runner,
    caller: Caller,
    task_id: int,
    given: dict[str, Any],
    plain: dict[str, Any],
    completed: bool | None,
    if_match: list[int] | None,
) -> asyncpg.Record | None:
    """The write of `rewrite` without reading the task first, as the common schedule change
    (a due date, time or reminders set on a task that does not recur) can be: planned as if the
    task had no schedule, in the owner's zone last seen, and written only if the schedule fields
    the request did not give are indeed as such a task has them and the zone is still the
    owner's (sql/task_update.sql), so the result is what planning from the task read would
    give. None when that does not hold, or the plan needs more (a recurrence; an unknown zone;
    a refusal, which the task read may not confirm): then the task is read and planned."""
    zone = guessed_zone(caller.user_id)
    if zone is None or not given or given.get("recurrence") is not None:
        return None
    try:
        planned = plan_unread(given, zone)
    except Refused:
        return None
    return await tasks.update_task(
        db,
        caller,
        task_id,
        **plain,
        completed=completed,
        due_date=planned.schedule.due_date,
        schedule=stored(planned, zone, None, tuple(given)),
        if_match=if_match,
    )


def plan_unread(given: dict[str, Any], zone: str) -> Planned:
    """The plan of `_write_unread`: the given schedule fields (no recurrence) applied to a task
    without a schedule in `zone`; Refused as `plan` is."""
    return plan(
        Schedule(),
        given,
        was_completed=False,  # without a recurrence, completion plans nothing
        completed=False,
        owner_zone=zone,
        now=datetime.now(UTC),
    )


async def rezone(db: Runner, caller: Caller, zone: str) -> None:
    """The caller's zone became `zone`: plan due_at and reminders again for their tasks that
    have a due time and no zone of their own (in the transaction that changed the zone)."""
    changed = []
    seen_zone(caller.user_id, None)  # until this commits, the old zone is the one
    for row in await tasks.zoneless_tasks(db, caller):
        due_at = due_instant(row["due_date"], row["due_time"], zone)
        entries = reminder_entries(stored_reminders(orjson.loads(row["reminders"])), due_at)
        changed.append((row["id"], due_at, orjson.dumps(entries).decode()))
    await tasks.rezone_tasks(db, caller, changed)
