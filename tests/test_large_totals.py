"""Totals of large filtered lists (docs/api.md, "`GET /api/{user_id}/tasks`"): with `q`,
`due_before`, `due_after` or `overdue`, a count past 10,000 stops there and says so
(`X-Total-Count: 10000`, `X-Total-Count-Exact: false`, exposed to browsers); an exact count
never sends that header, whatever the filters; paging is unaffected."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import User

pytestmark = pytest.mark.anyio

FRONTEND = "http://localhost:3000"


@pytest.fixture
async def many(client: httpx.AsyncClient, user: User, db: asyncpg.Connection) -> User:
    """The user with 10,001 overdue tasks titled "buy milk N", the first of them completed."""
    await db.execute(
        """INSERT INTO tasks (user_id, title, due_date, completed, completed_at)
           SELECT $1, 'buy milk ' || i, '2000-01-01', i = 1, CASE WHEN i = 1 THEN now() END
           FROM generate_series(1, 10001) AS i""",
        user.id,
    )
    return user


async def total(client: httpx.AsyncClient, user: User, query: str) -> tuple[str, str | None]:
    r = await client.get(f"{user.tasks}?limit=5&{query}", headers=user.headers)
    assert r.status_code == 200, r.text
    assert len(r.json()) == 5 and 'rel="next"' in r.headers["link"]  # paging as ever
    return r.headers["x-total-count"], r.headers.get("x-total-count-exact")


@pytest.mark.parametrize(
    "query", ["q=milk", "due_before=2000-01-01", "due_after=1999-12-31", "q=milk&sort=title"]
)
async def test_a_count_past_ten_thousand_stops_there_and_says_so(
    client: httpx.AsyncClient, many: User, query: str
) -> None:
    assert await total(client, many, query) == ("10000", "false")


@pytest.mark.parametrize(
    "query",
    [
        "q=milk&status=pending",  # exactly 10,000 match
        "overdue=true&tz=Europe/Berlin",  # the 10,000 pending ones
        "overdue=false",  # the completed one
    ],
)
async def test_a_bounded_filter_with_at_most_ten_thousand_matches_counts_exactly(
    client: httpx.AsyncClient, many: User, query: str
) -> None:
    r = await client.get(f"{many.tasks}?limit=1&{query}", headers=many.headers)
    assert r.status_code == 200
    expected = "1" if query == "overdue=false" else "10000"
    assert r.headers["x-total-count"] == expected
    assert "x-total-count-exact" not in r.headers


@pytest.mark.parametrize(
    "query", ["overdue=true", "overdue=true&status=pending", "overdue=true&tz=Pacific/Kiritimati"]
)
async def test_more_than_ten_thousand_overdue_tasks_are_counted_to_ten_thousand(
    client: httpx.AsyncClient, many: User, db: asyncpg.Connection, query: str
) -> None:
    await db.execute(
        "INSERT INTO tasks (user_id, title, due_date) VALUES ($1, 'late', '1999-01-01')", many.id
    )
    assert await total(client, many, query) == ("10000", "false")
    r = await client.get(f"{many.tasks}?{query}&q=late", headers=many.headers)
    assert r.headers["x-total-count"] == "1" and [t["title"] for t in r.json()] == ["late"]
    r = await client.get(f"{many.tasks}?overdue=true&status=completed", headers=many.headers)
    assert r.headers["x-total-count"] == "0" and "x-total-count-exact" not in r.headers


@pytest.mark.parametrize("query", ["", "status=all", "priority=none", "sort=due"])
async def test_filters_without_a_bound_count_every_match(
    client: httpx.AsyncClient, many: User, query: str
) -> None:
    assert await total(client, many, query) == ("10001", None)


async def test_the_bounded_count_header_is_exposed_to_browsers(
    client: httpx.AsyncClient, many: User
) -> None:
    r = await client.get(f"{many.tasks}?q=milk", headers={**many.headers, "Origin": FRONTEND})
    assert r.headers["x-total-count-exact"] == "false"
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"x-total-count", "x-total-count-exact"} <= exposed
