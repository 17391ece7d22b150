"""The list filters and sort orders of issue 9, each against what the contract says: tag (every
one), priority (any), due_before/due_after (inclusive), overdue in a time zone, their
combinations with status and q, X-Total-Count, and the default direction of each sort."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio


async def listed(client: httpx.AsyncClient, user: User, query: str) -> list[int]:
    r = await client.get(f"{user.tasks}?limit=500&{query}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.headers["x-total-count"] == str(len(r.json()))
    return [t["id"] for t in r.json()]


async def test_default_directions_and_null_placement(client: httpx.AsyncClient, user: User) -> None:
    none = await create_task(client, user, title="b", priority="none")
    late = await create_task(client, user, title="C", due_date="2027-01-01", priority="high")
    early = await create_task(client, user, title="a", due_date="2026-01-01", priority="low")
    ids = none["id"], late["id"], early["id"]
    n, lt, e = ids
    assert await listed(client, user, "sort=due") == [e, lt, n]
    assert await listed(client, user, "sort=due&order=desc") == [lt, e, n]  # no due date last
    assert await listed(client, user, "sort=priority") == [lt, e, n]  # high first
    assert await listed(client, user, "sort=priority&order=asc") == [n, e, lt]
    assert await listed(client, user, "sort=position") == [e, lt, n]  # newest on top
    assert await listed(client, user, "sort=position&order=desc") == [n, lt, e]
    assert await listed(client, user, "sort=title") == [e, n, lt]


async def test_filters_combine_and_the_total_counts_matches(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    made: list[dict[str, Any]] = []
    for n in range(40):
        made.append(
            await create_task(
                client,
                user,
                title=f"job {n}" if n % 3 else f"milk {n}",
                completed=n % 4 == 0,
                due_date=None if n % 5 == 0 else f"2026-03-{1 + n % 28:02d}",
                priority=("none", "low", "medium", "high")[n % 4],
                tags=[f"t{n % 2}", *(["Home"] if n % 3 == 0 else [])],
            )
        )

    def expect(keep: Any) -> list[int]:
        return sorted(t["id"] for t in made if keep(t))

    cases = {
        "tag=HOME": lambda t: "home" in t["tags"],
        "tag=home&tag=t0": lambda t: {"home", "t0"} <= set(t["tags"]),
        "tag=nothing": lambda t: False,
        "priority=high&priority=low": lambda t: t["priority"] in ("high", "low"),
        "due_after=2026-03-05&due_before=2026-03-10": lambda t: (
            t["due_date"] is not None and "2026-03-05" <= t["due_date"] <= "2026-03-10"
        ),
        "due_before=2026-03-01": lambda t: t["due_date"] == "2026-03-01",
        "status=pending&tag=home&q=MILK&priority=high&priority=none": lambda t: (
            not t["completed"]
            and "home" in t["tags"]
            and "milk" in t["title"]
            and t["priority"] in ("high", "none")
        ),
        "status=completed&due_after=0001-01-01&due_before=9999-12-31": lambda t: (
            t["completed"] and t["due_date"] is not None
        ),
    }
    for query, keep in cases.items():
        for sort in ("created", "due", "priority", "position", "title", "updated"):
            got = await listed(client, user, f"{query}&sort={sort}")
            assert sorted(got) == expect(keep), (query, sort)
    # Paged: the count is of all matches, on every page.
    r = await client.get(f"{user.tasks}?limit=3&tag=t1&sort=due", headers=user.headers)
    assert r.headers["x-total-count"] == str(len(expect(lambda t: "t1" in t["tags"])))


async def test_overdue_uses_today_in_the_given_time_zone(
    client: httpx.AsyncClient, user: User
) -> None:
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart: at any instant their dates
    differ, so a task due on the day before Kiritimati's today is overdue there and not in Pago
    Pago, whatever the time of day the test runs."""
    east, west = "Pacific/Kiritimati", "Pacific/Pago_Pago"

    def today(zone: str) -> date:
        return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()

    east_today, west_today = today(east), today(west)
    assert east_today > west_today
    days = {
        "east_yesterday": east_today - timedelta(days=1),
        "east_today": east_today,
        "west_yesterday": west_today - timedelta(days=1),
        "west_today": west_today,
    }
    tasks = {}
    for name, day in days.items():
        tasks[name] = (await create_task(client, user, title=name, due_date=day.isoformat()))["id"]
    done = await create_task(client, user, due_date="2000-01-01", completed=True)
    undated = await create_task(client, user)
    everyone = {*tasks.values(), done["id"], undated["id"]}

    def due_before(day: date) -> set[int]:
        return {tasks[n] for n, d in days.items() if d < day}

    for zone, zone_today in ((east, east_today), (west, west_today)):
        overdue = set(await listed(client, user, f"overdue=true&tz={zone}&sort=due"))
        not_overdue = set(await listed(client, user, f"overdue=false&tz={zone}"))
        if today(zone) != zone_today:
            pytest.skip("midnight passed in a zone while the test ran")
        assert overdue == due_before(zone_today), zone
        assert not_overdue == everyone - overdue
    # Kiritimati's yesterday is overdue there, not (yet) in Pago Pago.
    east_overdue = set(await listed(client, user, f"overdue=true&tz={east}"))
    west_overdue = set(await listed(client, user, f"overdue=true&tz={west}"))
    assert tasks["east_yesterday"] in east_overdue - west_overdue
    default = set(await listed(client, user, "overdue=true"))  # UTC
    assert default == due_before(today("UTC"))


@pytest.mark.parametrize("tz", ["Mars/Olympus", "UTC+1", "Europe", "../../etc/passwd", "utc"])
async def test_an_unknown_time_zone_is_422(client: httpx.AsyncClient, user: User, tz: str) -> None:
    r = await client.get(user.tasks, params={"overdue": "true", "tz": tz}, headers=user.headers)
    assert assert_problem(r, 422)["errors"][0]["loc"] == ["query", "tz"]


async def test_cursors_of_each_sort_carry_their_own_key_type(
    client: httpx.AsyncClient, user: User
) -> None:
    for n in range(3):
        await create_task(client, user, due_date=None if n else "9999-12-31", priority="high")
    for sort in ("due", "priority", "position"):
        for order in ("asc", "desc"):
            r = await client.get(
                f"{user.tasks}?limit=1&sort={sort}&order={order}", headers=user.headers
            )
            cursor = httpx.URL(r.links["next"]["url"]).params["cursor"]
            again = await client.get(
                f"{user.tasks}?limit=1&sort={sort}&order={order}&cursor={cursor}",
                headers=user.headers,
            )
            assert again.status_code == 200 and again.json()[0]["id"] != r.json()[0]["id"]
            other = "asc" if order == "desc" else "desc"
            wrong = await client.get(
                f"{user.tasks}?sort={sort}&order={other}&cursor={cursor}", headers=user.headers
            )
            assert assert_problem(wrong, 422)["errors"][0]["loc"] == ["query", "cursor"]
