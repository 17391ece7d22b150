"""Issue 19 over HTTP: a user's time zone, due times with daylight-saving gaps and overlaps,
sort=due and overdue by the clock, recurring tasks (the RRULE subset at its boundaries, the
series, advancing, COUNT/UNTIL, basis "completion", PUT restarting, occurrences) and reminders
(fires_at, following occurrences, the window route, next_reminder_at as stored)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio


async def put(
    client: httpx.AsyncClient, user: User, task: dict[str, Any], **fields: Any
) -> httpx.Response:
    return await client.put(f"{user.tasks}/{task['id']}", json=fields, headers=user.headers)


async def complete(
    client: httpx.AsyncClient, user: User, task: dict[str, Any], **kw: Any
) -> httpx.Response:
    return await client.patch(f"{user.tasks}/{task['id']}/complete", headers=user.headers, **kw)


async def refused_at(response: httpx.Response, field: str) -> None:
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"][:2] == ["body", field], problem


# A user's time zone


async def test_a_user_has_the_utc_zone_until_they_change_it(
    client: httpx.AsyncClient, user: User
) -> None:
    me = await client.get("/api/auth/me", headers=user.headers)
    assert me.json()["time_zone"] == "UTC"
    r = await client.patch("/api/auth/me", json={"time_zone": "Europe/Paris"}, headers=user.headers)
    assert r.status_code == 200 and r.json()["time_zone"] == "Europe/Paris"
    me = await client.get("/api/auth/me", headers=user.headers)
    assert me.json()["time_zone"] == "Europe/Paris"
    for bad in ("Mars/Olympus", None, "", 3, "europe/paris"):
        r = await client.patch("/api/auth/me", json={"time_zone": bad}, headers=user.headers)
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["loc"] == ["body", "time_zone"]


async def test_the_users_zone_is_the_zone_of_tasks_without_one(
    client: httpx.AsyncClient, user: User
) -> None:
    own = await create_task(
        client, user, due_date="2026-12-08", due_time="09:30", time_zone="Asia/Tokyo"
    )
    task = await create_task(
        client, user, due_date="2026-12-08", due_time="09:30", reminders=[{"before": 30}]
    )
    assert task["time_zone"] is None and task["due_at"] == "2026-12-08T09:30:00Z"
    r = await client.patch("/api/auth/me", json={"time_zone": "Europe/Paris"}, headers=user.headers)
    assert r.status_code == 200
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert got["due_at"] == "2026-12-08T08:30:00Z"
    assert got["reminders"] == [{"before": 30, "fires_at": "2026-12-08T08:00:00Z"}]
    assert got["version"] == task["version"] + 1
    kept = (await client.get(f"{user.tasks}/{own['id']}", headers=user.headers)).json()
    assert kept["due_at"] == "2026-12-08T00:30:00Z" and kept["version"] == own["version"]
    # New tasks take the new zone.
    new = await create_task(client, user, due_date="2026-12-08", due_time="09:30")
    assert new["due_at"] == "2026-12-08T08:30:00Z"


# Due times and the daylight-saving rule


@pytest.mark.parametrize("due_time", ["00:00", "23:59"])
async def test_due_times_at_the_edges_of_the_day(
    client: httpx.AsyncClient, user: User, due_time: str
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", due_time=due_time)
    assert task["due_time"] == due_time
    assert task["due_at"] == f"2026-12-08T{due_time}:00Z"


@pytest.mark.parametrize("bad", ["24:00", "9:30", "09:60", "09:30:00", "", "0930", 930, None])
async def test_a_due_time_that_is_not_hh_mm_is_refused(
    client: httpx.AsyncClient, user: User, bad: Any
) -> None:
    if bad is None:  # null is "no time": fine
        task = await create_task(client, user, due_date="2026-12-08", due_time=None)
        assert task["due_time"] is None and task["due_at"] is None
        return
    r = await client.post(
        user.tasks,
        json={"title": "t", "due_date": "2026-12-08", "due_time": bad},
        headers=user.headers,
    )
    await refused_at(r, "due_time")


async def test_a_due_time_needs_a_due_date(client: httpx.AsyncClient, user: User) -> None:
    r = await client.post(
        user.tasks, json={"title": "t", "due_time": "09:30"}, headers=user.headers
    )
    await refused_at(r, "due_time")
    task = await create_task(client, user, due_date="2026-12-08", due_time="09:30")
    r = await put(client, user, task, due_date=None)
    assert r.status_code == 200 and r.json()["due_time"] is None and r.json()["due_at"] is None
    r = await put(client, user, task, due_time="10:00")
    await refused_at(r, "due_time")


# (zone, day, local time, instant): both transition days of each zone, in the gap, in the
# overlap (the first of the two), and just around them.
DST_CASES = [
    ("America/New_York", "2026-03-08", "01:59", "2026-03-08T06:59:00Z"),
    ("America/New_York", "2026-03-08", "02:30", "2026-03-08T07:30:00Z"),  # gap: 03:30 EDT
    ("America/New_York", "2026-03-08", "03:00", "2026-03-08T07:00:00Z"),
    ("America/New_York", "2026-11-01", "01:30", "2026-11-01T05:30:00Z"),  # overlap: EDT
    ("America/New_York", "2026-11-01", "02:00", "2026-11-01T07:00:00Z"),
    ("Europe/Paris", "2026-03-29", "02:00", "2026-03-29T01:00:00Z"),  # gap: 03:00 CEST
    ("Europe/Paris", "2026-03-29", "02:30", "2026-03-29T01:30:00Z"),  # gap: 03:30 CEST
    ("Europe/Paris", "2026-03-29", "03:00", "2026-03-29T01:00:00Z"),
    ("Europe/Paris", "2026-10-25", "02:30", "2026-10-25T00:30:00Z"),  # overlap: CEST
    ("Europe/Paris", "2026-10-25", "03:00", "2026-10-25T02:00:00Z"),
]


@pytest.mark.parametrize(("zone", "day", "clock", "instant"), DST_CASES)
async def test_daylight_saving_gaps_move_forward_and_overlaps_take_the_first(
    client: httpx.AsyncClient, user: User, zone: str, day: str, clock: str, instant: str
) -> None:
    task = await create_task(client, user, due_date=day, due_time=clock, time_zone=zone)
    assert task["due_at"] == instant
    # The same through the owner's zone.
    r = await client.patch("/api/auth/me", json={"time_zone": zone}, headers=user.headers)
    assert r.status_code == 200
    task = await create_task(client, user, due_date=day, due_time=clock)
    assert task["due_at"] == instant


async def test_an_unknown_zone_is_refused(client: httpx.AsyncClient, user: User) -> None:
    for bad in ("Nowhere/City", "", "utc ", 1):
        r = await client.post(
            user.tasks, json={"title": "t", "time_zone": bad}, headers=user.headers
        )
        await refused_at(r, "time_zone")


async def test_sort_due_orders_by_date_then_due_at_then_untimed(
    client: httpx.AsyncClient, user: User
) -> None:
    day = "2026-12-08"
    untimed = await create_task(client, user, title="untimed", due_date=day)
    late = await create_task(client, user, title="late", due_date=day, due_time="18:00")
    # 09:00 in Tokyo is 00:00 UTC: earlier than 08:00 UTC
    tokyo = await create_task(
        client, user, title="tokyo", due_date=day, due_time="09:00", time_zone="Asia/Tokyo"
    )
    early = await create_task(client, user, title="early", due_date=day, due_time="08:00")
    before = await create_task(client, user, title="before", due_date="2026-12-07")
    none = await create_task(client, user, title="none")
    want = [before, tokyo, early, late, untimed, none]
    got = await client.get(user.tasks, params={"sort": "due"}, headers=user.headers)
    assert [t["id"] for t in got.json()] == [t["id"] for t in want]
    # Paging through one row at a time gives the same order.
    ids: list[int] = []
    url: str | None = f"{user.tasks}?sort=due&limit=1"
    while url:
        page = await client.get(url, headers=user.headers)
        ids += [t["id"] for t in page.json()]
        url = page.links.get("next", {}).get("url")
    assert ids == [t["id"] for t in want]
    desc = await client.get(
        user.tasks, params={"sort": "due", "order": "desc"}, headers=user.headers
    )
    assert [t["id"] for t in desc.json()] == [
        t["id"] for t in [late, early, tokyo, untimed, before, none]
    ]


async def test_overdue_counts_a_timed_task_once_its_instant_has_passed(
    client: httpx.AsyncClient, user: User
) -> None:
    now = datetime.now(UTC)
    today = now.date().isoformat()
    past = (now - timedelta(minutes=2)).strftime("%H:%M")
    future = (now + timedelta(minutes=3)).strftime("%H:%M")
    if (now - timedelta(minutes=2)).date() != now.date() or (
        now + timedelta(minutes=3)
    ).date() != now.date():
        pytest.skip("too close to midnight UTC")
    passed = await create_task(client, user, due_date=today, due_time=past)
    await create_task(client, user, due_date=today, due_time=future)
    await create_task(client, user, due_date=today)
    yesterday = await create_task(
        client, user, due_date=(now.date() - timedelta(days=1)).isoformat()
    )
    got = await client.get(
        user.tasks, params={"overdue": "true", "tz": "UTC"}, headers=user.headers
    )
    assert {t["id"] for t in got.json()} == {passed["id"], yesterday["id"]}


async def test_overdue_uses_the_users_zone_by_default(
    client: httpx.AsyncClient, user: User
) -> None:
    now = datetime.now(UTC)
    kiritimati = now.astimezone(__import__("zoneinfo").ZoneInfo("Pacific/Kiritimati")).date()
    # Due "yesterday" in Kiritimati (UTC+14): overdue there, perhaps not in UTC.
    day = (kiritimati - timedelta(days=1)).isoformat()
    task = await create_task(client, user, due_date=day)
    in_utc = day < now.date().isoformat()
    got = await client.get(user.tasks, params={"overdue": "true"}, headers=user.headers)
    assert (task["id"] in {t["id"] for t in got.json()}) == in_utc
    await client.patch(
        "/api/auth/me", json={"time_zone": "Pacific/Kiritimati"}, headers=user.headers
    )
    got = await client.get(user.tasks, params={"overdue": "true"}, headers=user.headers)
    assert task["id"] in {t["id"] for t in got.json()}


# Recurrence: the subset, part by part


ACCEPTED = [
    ("FREQ=DAILY", "FREQ=DAILY"),
    ("rrule:freq=weekly;byday=mo,we", "FREQ=WEEKLY;BYDAY=MO,WE"),
    ("FREQ=WEEKLY;INTERVAL=1000", "FREQ=WEEKLY;INTERVAL=1000"),
    ("FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=1MO"),
    ("FREQ=MONTHLY;BYDAY=-1FR,2TU", "FREQ=MONTHLY;BYDAY=-1FR,2TU"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1"),
    ("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=1000", "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=1000"),
    ("FREQ=DAILY;UNTIL=20271231", "FREQ=DAILY;UNTIL=20271231"),
    ("FREQ=DAILY;UNTIL=20271231T235959Z", "FREQ=DAILY;UNTIL=20271231T235959Z"),
    ("COUNT=3;FREQ=DAILY", "COUNT=3;FREQ=DAILY"),
]
REFUSED = [
    "",
    "FREQ=HOURLY",
    "FREQ=DAILY;INTERVAL=1001",
    "FREQ=DAILY;INTERVAL=0",
    "FREQ=DAILY;COUNT=0",
    "FREQ=DAILY;COUNT=1001",
    "FREQ=DAILY;COUNT=3;UNTIL=20271231",
    "FREQ=WEEKLY;BYDAY=1MO",
    "FREQ=DAILY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYDAY=MO,-1FR",
    "FREQ=MONTHLY;BYDAY=6MO",
    "FREQ=MONTHLY;BYMONTHDAY=32",
    "FREQ=MONTHLY;BYMONTHDAY=0",
    "FREQ=YEARLY;BYMONTH=13",
    "FREQ=DAILY;FREQ=DAILY",
    "FREQ=DAILY;WKST=MO",
    "FREQ=DAILY;BYSETPOS=1",
    "INTERVAL=2",
    "FREQ=DAILY;UNTIL=20270230",
    "FREQ=DAILY;UNTIL=2027-12-31",
    "FREQ=DAILY;",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;UNTIL=20261201",
]


@pytest.mark.parametrize(("rule", "stored"), ACCEPTED)
async def test_rules_of_the_subset_are_stored_upper_cased_in_the_order_given(
    client: httpx.AsyncClient, user: User, rule: str, stored: str
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence=rule)
    assert task["recurrence"] == stored and task["occurrence"] == 1
    assert task["recurrence_basis"] == "due"


@pytest.mark.parametrize("rule", REFUSED)
async def test_rules_outside_the_subset_are_422_naming_recurrence(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, rule: str
) -> None:
    body = {"title": "t", "due_date": "2026-12-08", "recurrence": rule}
    r = await client.post(user.tasks, json=body, headers=user.headers)
    await refused_at(r, "recurrence")
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.id) == 0


async def test_a_recurring_task_needs_a_due_date(client: httpx.AsyncClient, user: User) -> None:
    r = await client.post(
        user.tasks, json={"title": "t", "recurrence": "FREQ=DAILY"}, headers=user.headers
    )
    await refused_at(r, "recurrence")
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    await refused_at(await put(client, user, task, due_date=None), "due_date")
    r = await put(client, user, task, due_date=None, recurrence=None)
    assert r.status_code == 200 and r.json()["recurrence"] is None


async def test_recurrence_basis_is_due_or_completion(client: httpx.AsyncClient, user: User) -> None:
    for bad in (None, "later", 1):
        body = {"title": "t", "recurrence_basis": bad}
        await refused_at(
            await client.post(user.tasks, json=body, headers=user.headers), "recurrence_basis"
        )


# The series


async def occurrences(
    client: httpx.AsyncClient, user: User, task: dict[str, Any], limit: int = 10
) -> list[str]:
    r = await client.get(
        f"{user.tasks}/{task['id']}/occurrences", params={"limit": limit}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    dates: list[str] = r.json()["dates"]
    return dates


async def advance(
    client: httpx.AsyncClient, user: User, task: dict[str, Any], times: int
) -> list[str]:
    """Complete the task `times` times: the due dates it goes through."""
    seen = []
    for _ in range(times):
        r = await complete(client, user, task)
        assert r.status_code == 200, r.text
        seen.append(r.json()["due_date"])
    return seen


@pytest.mark.parametrize(
    ("due", "rule", "expected"),
    [
        # The due date is occurrence 1 even when the rule would not pick it (a Tuesday).
        ("2026-12-08", "FREQ=WEEKLY;BYDAY=MO", ["2026-12-14", "2026-12-21", "2026-12-28"]),
        # BYMONTHDAY=31 skips months of 30 days (and February).
        ("2026-01-31", "FREQ=MONTHLY;BYMONTHDAY=31", ["2026-03-31", "2026-05-31", "2026-07-31"]),
        ("2026-01-31", "FREQ=MONTHLY", ["2026-03-31", "2026-05-31", "2026-07-31"]),
        # February 29th: every four years.
        ("2024-02-29", "FREQ=YEARLY", ["2028-02-29", "2032-02-29", "2036-02-29"]),
        (
            "2024-02-29",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1",
            ["2025-02-28", "2026-02-28", "2027-02-28"],
        ),
        ("2026-12-08", "FREQ=MONTHLY;BYDAY=1MO", ["2027-01-04", "2027-02-01", "2027-03-01"]),
        ("2026-12-08", "FREQ=DAILY;INTERVAL=1000", ["2029-09-03", "2032-05-30", "2035-02-24"]),
        (
            "2026-12-08",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
            ["2026-12-09", "2026-12-21", "2026-12-23"],
        ),
    ],
)
async def test_the_series_starts_at_the_due_date_and_follows_the_rule(
    client: httpx.AsyncClient, user: User, due: str, rule: str, expected: list[str]
) -> None:
    task = await create_task(client, user, due_date=due, recurrence=rule)
    assert await occurrences(client, user, task, 3) == expected
    assert await advance(client, user, task, 3) == expected
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert got["occurrence"] == 4 and got["completed"] is False


async def test_count_ends_the_series_counting_the_due_date(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY;COUNT=3")
    assert await occurrences(client, user, task) == ["2026-12-09", "2026-12-10"]
    assert await advance(client, user, task, 2) == ["2026-12-09", "2026-12-10"]
    assert await occurrences(client, user, task) == []
    last = await complete(client, user, task)
    assert last.json()["completed"] is True and last.json()["occurrence"] == 3
    assert last.json()["completed_at"] is not None and last.json()["due_date"] == "2026-12-10"


async def test_count_one_is_only_the_due_date(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY;COUNT=1")
    assert await occurrences(client, user, task) == []
    r = await complete(client, user, task)
    assert r.json()["completed"] is True


async def test_until_ends_the_series_by_date(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(
        client, user, due_date="2026-12-08", recurrence="FREQ=DAILY;UNTIL=20261210T000000Z"
    )
    assert await occurrences(client, user, task) == ["2026-12-09", "2026-12-10"]
    assert await advance(client, user, task, 3) == ["2026-12-09", "2026-12-10", "2026-12-10"]
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert got["completed"] is True


async def test_advancing_is_one_change_keeping_everything_else(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(
        client,
        user,
        due_date="2026-12-08",
        due_time="09:30",
        time_zone="Europe/Paris",
        recurrence="FREQ=WEEKLY",
        tags=["home"],
        priority="high",
    )
    changes = await client.get(f"{user.tasks}/changes", headers=user.headers)
    token = changes.json()["next"]
    r = await complete(client, user, task)
    done = r.json()
    assert done["version"] == task["version"] + 1 and r.headers["etag"] == f'"{done["version"]}"'
    assert done["completed"] is False and done["completed_at"] is None
    assert done["due_date"] == "2026-12-15" and done["occurrence"] == 2
    assert done["due_time"] == "09:30" and done["time_zone"] == "Europe/Paris"
    assert done["due_at"] == "2026-12-15T08:30:00Z"
    assert done["tags"] == ["home"] and done["priority"] == "high"
    assert done["last_completed_at"] is not None
    feed = await client.get(f"{user.tasks}/changes", params={"since": token}, headers=user.headers)
    assert [c["version"] for c in feed.json()["changes"]] == [done["version"]]
    # PUT with "completed": true advances too; {"completed": false} changes nothing.
    r = await put(client, user, task, completed=True)
    assert r.json()["due_date"] == "2026-12-22" and r.json()["occurrence"] == 3
    same = await complete(client, user, task, json={"completed": False})
    assert same.json()["version"] == r.json()["version"]


async def test_completion_basis_counts_from_today(client: httpx.AsyncClient, user: User) -> None:
    today = datetime.now(UTC).date()
    task = await create_task(
        client,
        user,
        due_date="2020-01-01",
        recurrence="FREQ=DAILY;INTERVAL=3",
        recurrence_basis="completion",
        time_zone="UTC",
    )
    r = await complete(client, user, task)
    assert r.json()["due_date"] == (today + timedelta(days=3)).isoformat()
    assert r.json()["occurrence"] == 2


async def test_put_restarts_the_series(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY;COUNT=5")
    await advance(client, user, task, 2)
    r = await put(client, user, task, due_date="2027-01-01")
    assert r.json()["occurrence"] == 1 and r.json()["due_date"] == "2027-01-01"
    await advance(client, user, task, 1)
    r = await put(client, user, task, recurrence="FREQ=WEEKLY")
    assert r.json()["occurrence"] == 1 and r.json()["due_date"] == "2027-01-02"
    r = await put(client, user, task, title="renamed")
    assert r.json()["occurrence"] == 1 and r.json()["recurrence"] == "FREQ=WEEKLY"


async def test_an_idempotency_key_never_advances_twice(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    headers = {**user.headers, "Idempotency-Key": "advance-once"}
    first = await client.patch(f"{user.tasks}/{task['id']}/complete", headers=headers)
    again = await client.patch(f"{user.tasks}/{task['id']}/complete", headers=headers)
    assert first.json()["due_date"] == again.json()["due_date"] == "2026-12-09"
    assert again.headers["idempotent-replayed"] == "true"
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert got["occurrence"] == 2


async def test_if_match_lets_one_of_two_advances_win(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    headers = {**user.headers, "If-Match": f'"{task["version"]}"'}
    first = await client.patch(f"{user.tasks}/{task['id']}/complete", headers=headers)
    second = await client.patch(f"{user.tasks}/{task['id']}/complete", headers=headers)
    assert first.status_code == 200 and second.status_code == 412
    assert second.headers["etag"] == f'"{first.json()["version"]}"'


async def test_occurrences_of_missing_and_plain_tasks(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    plain = await create_task(client, user)
    assert await occurrences(client, user, plain) == []
    r = await client.get(f"{other.tasks}/{plain['id']}/occurrences", headers=other.headers)
    assert_problem(r, 404)
    for bad in ("0", "101", "x"):
        r = await client.get(
            f"{user.tasks}/{plain['id']}/occurrences", params={"limit": bad}, headers=user.headers
        )
        assert_problem(r, 422)
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    assert len(await occurrences(client, user, task, 100)) == 100


# Reminders


async def test_reminders_come_back_with_fires_at(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    day = soon.date().isoformat()
    task = await create_task(
        client,
        user,
        due_date=day,
        due_time="12:00",
        reminders=[
            {"before": 15},
            {"at": "2020-01-01T10:00:00+02:00"},
            {"before": 15},
            {"before": 0},
        ],
    )
    assert task["reminders"] == [
        {"before": 15, "fires_at": f"{day}T11:45:00Z"},
        {"at": "2020-01-01T08:00:00Z", "fires_at": "2020-01-01T08:00:00Z"},
        {"before": 0, "fires_at": f"{day}T12:00:00Z"},
    ]
    stored = await db.fetchval("SELECT next_reminder_at FROM tasks WHERE id = $1", task["id"])
    assert stored == datetime.fromisoformat(f"{day}T11:45:00+00:00")
    r = await complete(client, user, task)
    assert await db.fetchval("SELECT next_reminder_at FROM tasks WHERE id = $1", task["id"]) is None
    await complete(client, user, task)
    assert (
        await db.fetchval("SELECT next_reminder_at FROM tasks WHERE id = $1", task["id"]) == stored
    )
    assert r.status_code == 200


async def test_reminder_rules(client: httpx.AsyncClient, user: User) -> None:
    base = {"title": "t", "due_date": "2026-12-08", "due_time": "09:00"}
    for bad in (
        [{"before": -1}],
        [{"before": 40321}],
        [{"before": 1, "at": "2026-12-08T09:00:00Z"}],
        [{}],
        [{"at": "2026-12-08T09:00:00"}],
        [{"at": "tomorrow"}],
        [{"before": n} for n in range(6)],
    ):
        r = await client.post(user.tasks, json={**base, "reminders": bad}, headers=user.headers)
        await refused_at(r, "reminders")
    task = await create_task(
        client,
        user,
        **{**base, "reminders": [{"before": 40320}] + [{"before": n} for n in range(4)]},
    )
    assert len(task["reminders"]) == 5
    r = await client.post(
        user.tasks,
        json={"title": "t", "due_date": "2026-12-08", "reminders": [{"before": 5}]},
        headers=user.headers,
    )
    await refused_at(r, "reminders")
    # Clearing the time under a before reminder: 422 unless reminders are set too.
    await refused_at(await put(client, user, task, due_time=None), "due_time")
    await refused_at(await put(client, user, task, due_date=None), "due_date")
    r = await put(client, user, task, due_time=None, reminders=None)
    assert r.status_code == 200 and r.json()["reminders"] == []


async def test_before_reminders_follow_each_occurrence(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(
        client,
        user,
        due_date="2030-12-08",
        due_time="09:00",
        recurrence="FREQ=DAILY",
        reminders=[{"before": 60}, {"at": "2030-12-08T07:00:00Z"}],
    )
    r = await complete(client, user, task)
    assert r.json()["reminders"] == [
        {"before": 60, "fires_at": "2030-12-09T08:00:00Z"},
        {"at": "2030-12-08T07:00:00Z", "fires_at": "2030-12-08T07:00:00Z"},
    ]


async def test_the_reminders_of_a_window_soonest_first(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    now = datetime.now(UTC)
    day = (now + timedelta(days=3)).date().isoformat()
    late = await create_task(
        client, user, title="late", due_date=day, due_time="12:00", reminders=[{"before": 0}]
    )
    early = await create_task(
        client,
        user,
        title="early",
        due_date=day,
        due_time="10:00",
        reminders=[{"before": 0}, {"before": 1440}],
    )
    far = (now + timedelta(days=20)).replace(microsecond=0)
    await create_task(client, user, title="far", reminders=[{"at": far.isoformat()}])
    await create_task(
        client, other, title="other's", due_date=day, due_time="11:00", reminders=[{"before": 0}]
    )
    done = await create_task(
        client, user, title="done", due_date=day, due_time="11:00", reminders=[{"before": 0}]
    )
    await complete(client, user, done)
    r = await client.get(f"/api/{user.id}/reminders", headers=user.headers)
    assert r.status_code == 200, r.text
    got = [(x["task_id"], x["fires_at"]) for x in r.json()]
    prior = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    assert got == [
        (early["id"], f"{prior}T10:00:00Z"),
        (early["id"], f"{day}T10:00:00Z"),
        (late["id"], f"{day}T12:00:00Z"),
    ]
    assert r.json()[0]["title"] == "early" and r.json()[0]["due_at"] == f"{day}T10:00:00Z"
    window = {
        "from": (now + timedelta(days=10)).isoformat(),
        "to": (now + timedelta(days=41)).isoformat(),
    }
    r = await client.get(f"/api/{user.id}/reminders", params=window, headers=user.headers)
    assert [x["title"] for x in r.json()] == ["far"]
    for bad in (
        {"from": now.isoformat(), "to": (now + timedelta(days=31, seconds=1)).isoformat()},
        {"from": now.isoformat(), "to": (now - timedelta(seconds=1)).isoformat()},
        {"from": "yesterday"},
        {"to": "2026-12-08"},
    ):
        r = await client.get(f"/api/{user.id}/reminders", params=bad, headers=user.headers)
        assert_problem(r, 422)
    r = await client.get(f"/api/{user.id}/reminders", headers=other.headers)
    assert_problem(r, 403)


# Many clients completing one recurring task at once


@pytest.mark.parametrize("round_", range(5))
async def test_concurrent_completions_each_advance_once(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, round_: int
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    url = f"{user.tasks}/{task['id']}/complete"
    start = (await client.get(f"{user.tasks}/changes", headers=user.headers)).json()["next"]
    responses = await asyncio.gather(*(client.patch(url, headers=user.headers) for _ in range(25)))
    assert [r.status_code for r in responses] == [200] * 25
    days = sorted(r.json()["due_date"] for r in responses)
    first = date(2026, 12, 8)
    assert days == [(first + timedelta(days=n)).isoformat() for n in range(1, 26)]
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 27))
    final = await db.fetchrow("SELECT occurrence, version FROM tasks WHERE id = $1", task["id"])
    assert (final["occurrence"], final["version"]) == (26, 26)
    feed = await client.get(f"{user.tasks}/changes", params={"since": start}, headers=user.headers)
    assert [c["version"] for c in feed.json()["changes"]] == [26]


@pytest.mark.parametrize("round_", range(5))
async def test_concurrent_completions_with_one_if_match_have_one_winner(
    client: httpx.AsyncClient, user: User, round_: int
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    url = f"{user.tasks}/{task['id']}/complete"
    headers = {**user.headers, "If-Match": f'"{task["version"]}"'}
    responses = await asyncio.gather(*(client.patch(url, headers=headers) for _ in range(25)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 24
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert (got["due_date"], got["occurrence"], got["version"]) == ("2026-12-09", 2, 2)


@pytest.mark.parametrize("round_", range(5))
async def test_concurrent_completions_with_one_idempotency_key_advance_once(
    client: httpx.AsyncClient, user: User, round_: int
) -> None:
    task = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    url = f"{user.tasks}/{task['id']}/complete"
    headers = {**user.headers, "Idempotency-Key": f"k{round_}"}
    responses = await asyncio.gather(*(client.patch(url, headers=headers) for _ in range(10)))
    assert {r.status_code for r in responses} <= {200, 409}
    assert {r.json()["due_date"] for r in responses if r.status_code == 200} == {"2026-12-09"}
    got = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert (got["occurrence"], got["version"]) == (2, 2)


async def test_a_task_sent_back_with_its_reminders_keeps_them(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(
        client, user, due_date="2030-12-08", due_time="09:00", reminders=[{"before": 10}]
    )
    # fires_at (read-only) and unknown fields in a reminder are ignored, NUL and all.
    sent = [{**task["reminders"][0], "note\x00": "x"}]
    r = await put(client, user, task, reminders=sent, title="again")
    assert r.status_code == 200, r.text
    assert r.json()["reminders"] == task["reminders"]
