"""Completing a recurring task in one statement (migrations/0014, sql/task_set_completed.sql):
the series' next occurrences are planned ahead when its schedule is written, and a completion
advances to the next of them in SQL. It gives exactly what planning the advance in Python gives
(todo_api/models/time.py, `plan`), for random rules, due times, zones and reminders; when the
occurrences planned ahead run out (or a task has none: one written before the migration, or
whose owner changed zone) the advance is planned in Python, which plans ahead again; and
concurrent completions advance once per success."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import User, create_task
from tests.rrules import rules
from tests.test_recurrence import library_series
from tests.test_schema_rules import Live, live  # noqa: F401 (the server fixture)
from todo_api.models.time import AHEAD_MAX

STEPS = AHEAD_MAX + 3  # past the first refill
ZONES = [None, "UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu"]
# Times in the zones' daylight-saving gaps and overlaps among them.
TIMES = [None, "00:00", "01:30", "02:00", "02:30", "09:15", "23:59"]
BEFORE = [{"before": 0}, {"before": 15}, {"before": 1439}, {"before": 40320}]
AT = [{"at": "2031-03-30T01:30:00Z"}, {"at": "2001-01-01T00:00:00Z"}]
# What a completion must leave alike on both paths (not the id, the title or the timestamps).
COMPARED = (
    "completed",
    "due_date",
    "due_time",
    "time_zone",
    "due_at",
    "recurrence",
    "recurrence_basis",
    "occurrence",
    "reminders",
    "version",
)
FORGET_AHEAD = """UPDATE tasks SET ahead_dates = NULL, ahead_due_at = NULL, ahead_zone = NULL,
                                   ahead_ends = NULL WHERE id = %s"""


def ahead_of(server: Live, task_id: int) -> list[date] | None:
    row = server.db.execute("SELECT ahead_dates FROM tasks WHERE id = %s", (task_id,)).fetchone()
    assert row is not None
    return row[0]


def next_reminder(server: Live, task_id: int) -> Any:
    query = "SELECT next_reminder_at FROM tasks WHERE id = %s"
    row = server.db.execute(query, (task_id,)).fetchone()
    assert row is not None
    return row[0]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rule=rules(),
    due=st.dates(date(1995, 1, 1), date(2100, 12, 31)),
    due_time=st.sampled_from(TIMES),
    zone=st.sampled_from(ZONES),
    before=st.lists(st.sampled_from(BEFORE), max_size=3, unique_by=str),
    at=st.lists(st.sampled_from(AT), max_size=2, unique_by=str),
)
def test_an_advance_in_one_statement_is_the_planned_advance(
    live: Live,  # noqa: F811
    rule: str,
    due: date,
    due_time: str | None,
    zone: str | None,
    before: list[dict[str, Any]],
    at: list[dict[str, Any]],
) -> None:
    expected = library_series(rule, due, STEPS)
    assume(expected is not None)
    assert expected is not None
    body: dict[str, Any] = {"title": "r", "due_date": due.isoformat(), "recurrence": rule}
    if due_time is not None:
        body |= {"due_time": due_time, "reminders": before + at}
    elif at:
        body["reminders"] = at
    if zone is not None:
        body["time_zone"] = zone
    tasks = f"/api/{live.user_id}/tasks"
    made = []
    for _ in range(2):
        r = live.http.post(tasks, json=body, headers=live.headers)
        assert r.status_code == 201, r.text
        made.append(r.json())
    quick, planned = made
    ahead = ahead_of(live, quick["id"])
    assert ahead is not None and ahead == [date.fromisoformat(d) for d in expected[:AHEAD_MAX]]
    dates = []
    for step in range(STEPS):
        live.db.execute(FORGET_AHEAD, (planned["id"],))  # this one is planned in Python
        a, b = (live.http.patch(f"{tasks}/{t['id']}/complete", headers=live.headers) for t in made)
        assert a.status_code == b.status_code == 200, (a.text, b.text)
        one, other = a.json(), b.json()
        assert {k: one[k] for k in COMPARED} == {k: other[k] for k in COMPARED}
        assert (one["completed_at"] is None) == (other["completed_at"] is None)
        assert (one["last_completed_at"] is None) == (other["last_completed_at"] is None)
        assert next_reminder(live, quick["id"]) == next_reminder(live, planned["id"])
        if one["completed"]:  # COUNT or UNTIL ended the series
            break
        dates.append(one["due_date"])
        if step == 0 and len(ahead) > 1:  # the one-statement path took the first one
            assert ahead_of(live, quick["id"]) == ahead[1:]
    assert dates == expected[: len(dates)]
    assert len(dates) == len(expected) or len(dates) == STEPS


async def ahead_in(db: asyncpg.Connection, task_id: int) -> list[date] | None:
    result: list[date] | None = await db.fetchval(
        "SELECT ahead_dates FROM tasks WHERE id = $1", task_id
    )
    return result


@pytest.mark.anyio
async def test_when_the_occurrences_planned_ahead_run_out_the_next_advance_plans_more(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    assert len(await ahead_in(db, task["id"]) or []) == AHEAD_MAX
    url = f"{user.tasks}/{task['id']}/complete"
    for n in range(1, AHEAD_MAX + 1):
        done = (await client.patch(url, headers=user.headers)).json()
        assert done["due_date"] == date(2026, 12, 8 + n).isoformat()
        assert len(await ahead_in(db, task["id"]) or []) == AHEAD_MAX - n
    done = (await client.patch(url, headers=user.headers)).json()  # planned in Python
    assert done["due_date"] == "2026-12-17" and done["occurrence"] == AHEAD_MAX + 2
    assert await ahead_in(db, task["id"]) == [date(2026, 12, 18 + n) for n in range(AHEAD_MAX)]


@pytest.mark.anyio
async def test_a_task_with_nothing_planned_ahead_still_advances_and_gets_them(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    """As a task written before migration 0014 stands: every ahead_* column NULL."""
    task = await create_task(
        client, user, due_date="2026-12-08", due_time="09:00", recurrence="FREQ=WEEKLY;COUNT=3"
    )
    await db.execute(FORGET_AHEAD.replace("%s", "$1"), task["id"])
    url = f"{user.tasks}/{task['id']}/complete"
    done = (await client.patch(url, headers=user.headers)).json()
    assert (done["due_date"], done["due_at"], done["occurrence"]) == (
        "2026-12-15",
        "2026-12-15T09:00:00Z",
        2,
    )
    row = await db.fetchrow(
        "SELECT ahead_dates, ahead_ends, ahead_zone FROM tasks WHERE id = $1", task["id"]
    )
    assert tuple(row) == ([date(2026, 12, 22)], True, "UTC")
    done = (await client.patch(url, headers=user.headers)).json()
    assert (done["due_date"], done["occurrence"], done["completed"]) == ("2026-12-22", 3, False)
    done = (await client.patch(url, headers=user.headers)).json()  # COUNT ends it, in SQL
    assert (done["due_date"], done["occurrence"], done["completed"]) == ("2026-12-22", 3, True)


@pytest.mark.anyio
async def test_an_advance_after_the_owner_changed_zone_uses_the_new_zone(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(
        client,
        user,
        due_date="2026-12-08",
        due_time="09:00",
        recurrence="FREQ=DAILY",
        reminders=[{"before": 30}],
    )
    r = await client.patch("/api/auth/me", json={"time_zone": "Europe/Paris"}, headers=user.headers)
    assert r.status_code == 200
    url = f"{user.tasks}/{task['id']}/complete"
    for day in ("2026-12-09", "2026-12-10"):  # planned in Python, then in SQL
        done = (await client.patch(url, headers=user.headers)).json()
        assert done["due_at"] == f"{day}T08:00:00Z"
        assert done["reminders"] == [{"before": 30, "fires_at": f"{day}T07:30:00Z"}]


@pytest.mark.anyio
async def test_concurrent_completions_advance_once_per_success(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, due_date="2026-12-01", recurrence="FREQ=DAILY")
    url = f"{user.tasks}/{task['id']}/complete"
    clients = 2 * AHEAD_MAX + 4  # across two refills
    replies = await asyncio.gather(
        *(client.patch(url, json={"completed": True}, headers=user.headers) for _ in range(clients))
    )
    done = [r.json() for r in replies if r.status_code == 200]
    assert len(done) == clients, [r.text for r in replies if r.status_code != 200]
    # Each success is one advance, its own version and occurrence and the next date.
    assert sorted(d["occurrence"] for d in done) == list(range(2, clients + 2))
    assert sorted(d["version"] for d in done) == list(
        range(task["version"] + 1, task["version"] + clients + 1)
    )
    assert sorted(d["due_date"] for d in done) == [
        date(2026, 12, 1 + n).isoformat() for n in range(1, clients + 1)
    ]
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert got["occurrence"] == clients + 1 and got["version"] == task["version"] + clients


@pytest.mark.anyio
async def test_concurrent_completions_with_one_if_match_have_one_winner(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, due_date="2026-12-01", recurrence="FREQ=DAILY")
    headers = {**user.headers, "If-Match": f'"{task["version"]}"'}
    url = f"{user.tasks}/{task['id']}/complete"
    replies = await asyncio.gather(*(client.patch(url, headers=headers) for _ in range(10)))
    assert sorted(r.status_code for r in replies) == [200] + [412] * 9
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert (got["occurrence"], got["due_date"]) == (2, "2026-12-02")
