"""Listing: filters, sorts, keyset paging that survives inserts and deletes, Link and counts."""

from __future__ import annotations

import base64
import random
import re
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio

SORTS = [
    (sort, order)
    for sort in ("created", "updated", "title", "due", "priority", "position")
    for order in ("desc", "asc")
]
NEXT_LINK = re.compile(r'<([^>]+)>; rel="next"')
PRIORITIES = ("none", "low", "medium", "high")
# A filtered walk: tag t1, high or medium priority, due on or after 2026-01-10.
FILTER = "tag=T1&priority=high&priority=medium&due_after=2026-01-10"


def title_for(n: int) -> str:
    """Titles with many case-insensitive ties, so the id tie-breaker is exercised."""
    word = chr(ord("a") + n % 5) + str(n % 3)
    return word.upper() if n % 2 else word


def fields_for(n: int) -> dict[str, Any]:
    """Due dates with ties and gaps (every 7th none), every priority, a few tags."""
    return {
        "due_date": None if n % 7 == 0 else (date(2026, 1, 1) + timedelta(days=n % 30)).isoformat(),
        "priority": PRIORITIES[n % 4],
        "tags": [f"t{n % 3}"] + (["x"] if n % 5 == 0 else []),
    }


async def seed(db: asyncpg.Connection, user: User, count: int) -> None:
    """`count` tasks in one statement: they share created_at and updated_at (ties everywhere)."""
    fields = [fields_for(n) for n in range(count)]
    await db.execute(
        """
        INSERT INTO tasks (user_id, title, completed, completed_at, due_date, priority, tags)
        SELECT $1, t.title, n % 4 = 0, CASE WHEN n % 4 = 0 THEN now() END,
               t.due::date, t.priority::task_priority, string_to_array(t.tags, ',')
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
             WITH ORDINALITY AS t(title, due, priority, tags, n)
        """,
        user.id,
        [title_for(n) for n in range(count)],
        [f["due_date"] for f in fields],
        [f["priority"] for f in fields],
        [",".join(f["tags"]) for f in fields],
    )


def sort_key(task: dict[str, Any], sort: str, order: str) -> tuple[Any, ...]:
    """The contract's order as a Python key (used with reverse=True for desc)."""
    if sort == "due":  # no due date last in either order
        has_due = task["due_date"] is not None
        return (has_due if order == "desc" else not has_due, task["due_date"] or "", task["id"])
    value = {
        "created": lambda: task["created_at"],
        "updated": lambda: task["updated_at"],
        "title": lambda: task["title"].lower(),
        "priority": lambda: PRIORITIES.index(task["priority"]),
        "position": lambda: task["position"],
    }[sort]()
    return value, task["id"]


def matches_filter(task: dict[str, Any]) -> bool:
    return (
        "t1" in task["tags"]
        and task["priority"] in ("high", "medium")
        and task["due_date"] is not None
        and task["due_date"] >= "2026-01-10"
    )


def next_url(response: httpx.Response) -> str | None:
    found = NEXT_LINK.search(response.headers.get("link", ""))
    return found.group(1) if found else None


@pytest.mark.parametrize("filtered", [False, True], ids=["all", "filtered"])
@pytest.mark.parametrize(("sort", "order"), SORTS)
async def test_walk_every_page_while_rows_come_go_and_move(
    client: httpx.AsyncClient,
    user: User,
    db: asyncpg.Connection,
    sort: str,
    order: str,
    filtered: bool,
) -> None:
    await seed(db, user, 250)
    survivors = {
        r["id"] for r in await db.fetch("SELECT id FROM tasks WHERE user_id = $1", user.id)
    }
    rng = random.Random(f"{sort}-{order}-{filtered}")
    seen: list[dict[str, Any]] = []
    moved: set[int] = set()
    url: str | None = f"{user.tasks}?limit=20&sort={sort}&order={order}"
    if filtered:
        url += "&" + FILTER
    pages = 0
    while url is not None:
        r = await client.get(url, headers=user.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page) <= 20
        seen.extend(page)
        pages += 1
        url = next_url(r)
        if url is not None:
            assert url.startswith("http://testserver/")
            assert len(page) == 20
        # Between pages: new rows arrive, unseen and seen rows are deleted, some are moved.
        for _ in range(3):
            n = rng.randrange(1000)
            await create_task(client, user, title=title_for(n), **fields_for(n))
        seen_ids = {t["id"] for t in seen}
        unseen = sorted(survivors - seen_ids)
        for victim in [*rng.sample(unseen, min(2, len(unseen))), rng.choice(sorted(seen_ids))]:
            r = await client.delete(f"{user.tasks}/{victim}", headers=user.headers)
            assert r.status_code in (204, 404)
            survivors.discard(victim)
        for _ in range(2):
            task, after = rng.sample(sorted(survivors), 2)
            r = await client.post(
                f"{user.tasks}/{task}/move",
                json={"after": rng.choice([after, None])},
                headers=user.headers,
            )
            assert r.status_code == 200, r.text
            moved.add(task)
    # Every page follows the last: keys as returned never go back, whatever moved meanwhile.
    keys = [sort_key(t, sort, order) for t in seen]
    assert keys == sorted(keys, reverse=order == "desc")
    assert len({sort_key(t, sort, order) for t in seen}) == len(keys)
    steady = [t["id"] for t in seen if t["id"] not in moved]
    assert len(steady) == len(set(steady)), "a row appeared twice"
    expected = survivors - moved
    if filtered:
        assert all(matches_filter(t) for t in seen)
        stored = await db.fetch(
            """SELECT id FROM tasks WHERE user_id = $1 AND tags @> '{t1}'
               AND priority IN ('high', 'medium') AND due_date >= '2026-01-10'""",
            user.id,
        )
        expected &= {r["id"] for r in stored}
    assert expected <= set(steady), "a surviving row was skipped"
    assert pages >= (2 if filtered else 12)


async def test_total_count_and_link_across_pages(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await seed(db, user, 100)
    first = await client.get(f"{user.tasks}?limit=4&status=pending&q=a", headers=user.headers)
    total = int(first.headers["x-total-count"])
    expected = await db.fetchval(
        "SELECT count(*) FROM tasks WHERE user_id = $1 AND NOT completed AND title ILIKE '%a%'",
        user.id,
    )
    assert total == expected
    url = next_url(first)
    assert url is not None
    assert "status=pending" in url and "q=a" in url and "limit=4" in url and "cursor=" in url
    collected = first.json()
    while url is not None:
        r = await client.get(url, headers=user.headers)
        assert r.headers["x-total-count"] == str(total)
        collected += r.json()
        url = next_url(r)
    assert len(collected) == total > 4
    assert all(not t["completed"] and "a" in t["title"].lower() for t in collected)


async def test_exact_fit_last_page_has_no_next_link(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await seed(db, user, 20)
    first = await client.get(f"{user.tasks}?limit=10", headers=user.headers)
    url = next_url(first)
    assert url is not None
    second = await client.get(url, headers=user.headers)
    assert len(second.json()) == 10
    assert next_url(second) is None
    assert "link" not in second.headers


async def test_default_listing_is_newest_first_up_to_100(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await seed(db, user, 105)
    newest = await create_task(client, user, title="newest")
    r = await client.get(user.tasks, headers=user.headers)
    page = r.json()
    assert len(page) == 100
    assert page[0]["id"] == newest["id"]
    assert r.headers["x-total-count"] == "106"
    assert next_url(r) is not None


async def test_status_filter(client: httpx.AsyncClient, user: User) -> None:
    done = await create_task(client, user, completed=True)
    todo = await create_task(client, user)
    ids = {}
    for status in ("all", "pending", "completed"):
        r = await client.get(f"{user.tasks}?status={status}", headers=user.headers)
        ids[status] = [t["id"] for t in r.json()]
    assert ids == {
        "all": [todo["id"], done["id"]],
        "pending": [todo["id"]],
        "completed": [done["id"]],
    }


async def test_search_is_case_insensitive_on_title_and_description_and_literal(
    client: httpx.AsyncClient, user: User
) -> None:
    a = await create_task(client, user, title="Buy MILK")
    b = await create_task(client, user, title="other", description="oat milk please")
    c = await create_task(client, user, title="100% done_now")
    await create_task(client, user, title="100 percent doneXnow")

    async def search(q: str) -> list[int]:
        r = await client.get(
            user.tasks, params={"q": q, "sort": "created", "order": "asc"}, headers=user.headers
        )
        assert r.status_code == 200
        return [t["id"] for t in r.json()]

    assert await search("milk") == [a["id"], b["id"]]
    assert await search("MiLk") == [a["id"], b["id"]]
    assert await search("0%") == [c["id"]]
    assert await search("e_n") == [c["id"]]
    assert await search("\\") == []
    assert await search("zzz") == []


async def test_sort_updated_puts_the_last_changed_first(
    client: httpx.AsyncClient, user: User
) -> None:
    first = await create_task(client, user, title="first")
    second = await create_task(client, user, title="second")
    await client.put(f"{user.tasks}/{first['id']}", json={"title": "changed"}, headers=user.headers)
    r = await client.get(f"{user.tasks}?sort=updated", headers=user.headers)
    assert [t["id"] for t in r.json()] == [first["id"], second["id"]]
    r = await client.get(f"{user.tasks}?sort=created", headers=user.headers)
    assert [t["id"] for t in r.json()] == [second["id"], first["id"]]


async def test_sort_title_is_a_to_z_case_insensitively(
    client: httpx.AsyncClient, user: User
) -> None:
    for title in ("banana", "Apple", "cherry", "apple"):
        await create_task(client, user, title=title)
    r = await client.get(f"{user.tasks}?sort=title", headers=user.headers)
    assert [t["title"] for t in r.json()] == ["Apple", "apple", "banana", "cherry"]
    r = await client.get(f"{user.tasks}?sort=title&order=desc", headers=user.headers)
    assert [t["title"] for t in r.json()] == ["cherry", "banana", "apple", "Apple"]


async def first_cursor(client: httpx.AsyncClient, user: User, query: str) -> str:
    for n in range(3):
        await create_task(client, user, title=f"t{n}")
    r = await client.get(f"{user.tasks}?limit=1&{query}", headers=user.headers)
    url = next_url(r)
    assert url is not None
    return httpx.URL(url).params["cursor"]


@pytest.mark.parametrize(
    "other_query", ["sort=title", "sort=updated", "order=asc", "sort=created&order=asc"]
)
async def test_cursor_under_another_sort_or_order_is_422(
    client: httpx.AsyncClient, user: User, other_query: str
) -> None:
    cursor = await first_cursor(client, user, "sort=created&order=desc")
    r = await client.get(f"{user.tasks}?{other_query}&cursor={cursor}", headers=user.headers)
    assert assert_problem(r, 422)["errors"][0]["loc"] == ["query", "cursor"]
    same = await client.get(
        f"{user.tasks}?sort=created&order=desc&cursor={cursor}", headers=user.headers
    )
    assert same.status_code == 200


async def test_forged_cursor_is_422(client: httpx.AsyncClient, user: User) -> None:
    cursor = await first_cursor(client, user, "sort=title")
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    r = await client.get(f"{user.tasks}?sort=title&cursor={forged}", headers=user.headers)
    assert_problem(r, 422)
