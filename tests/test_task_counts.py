"""The kept counts (task_counts, migrations/0006) that X-Total-Count and GET /tags read instead of
counting a user's rows: after any mix of writes, sequential or concurrent, they equal what
counting the rows gives, and a list answers the same total whether it reads them or counts."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, create_task, register

pytestmark = pytest.mark.anyio

TAGS = ["home", "work", "errands", "later"]
# Every priority: matches every task, but as a filter it makes the list count its rows.
ALL_PRIORITIES = "&priority=none&priority=low&priority=medium&priority=high"


async def kept_counts(db: asyncpg.Connection, user: User) -> dict[str, tuple[int, int]]:
    rows = await db.fetch(
        "SELECT tag, tasks, completed FROM task_counts WHERE user_id = $1 AND tasks > 0", user.id
    )
    return {r["tag"]: (r["tasks"], r["completed"]) for r in rows}


async def counted_rows(db: asyncpg.Connection, user: User) -> dict[str, tuple[int, int]]:
    rows = await db.fetch(
        """SELECT tag, count(*) AS tasks, count(*) FILTER (WHERE completed) AS completed
           FROM tasks CROSS JOIN LATERAL unnest(array_prepend(''::text, tags)) AS tag
           WHERE user_id = $1 GROUP BY tag""",
        user.id,
    )
    return {r["tag"]: (r["tasks"], r["completed"]) for r in rows}


async def total(client: httpx.AsyncClient, user: User, query: str) -> int:
    response = await client.get(f"{user.tasks}?limit=1&{query}", headers=user.headers)
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"])


async def assert_totals_agree(client: httpx.AsyncClient, user: User) -> None:
    """Each total read from the counts equals the same list's total counted row by row."""
    for status in ("all", "pending", "completed"):
        for tag in [None, *TAGS, "never-used"]:
            query = f"status={status}" + (f"&tag={tag}" if tag else "")
            assert await total(client, user, query) == await total(
                client, user, query + ALL_PRIORITIES
            ), query


async def random_write(client: httpx.AsyncClient, user: User, rng: random.Random) -> None:
    """One write of any kind the API has, on a random task of the user's (if any)."""
    listed = await client.get(f"{user.tasks}?limit=500", headers=user.headers)
    ids = [t["id"] for t in listed.json()]
    choice = rng.choice(["create", "create", "update", "toggle", "delete", "clear", "move"])
    if choice == "create" or not ids:
        tags = rng.sample(TAGS, rng.randint(0, 3))
        await create_task(client, user, tags=tags, completed=rng.random() < 0.3)
        return
    task = f"{user.tasks}/{rng.choice(ids)}"
    if choice == "update":
        body: dict[str, Any] = {"tags": rng.sample(TAGS, rng.randint(0, 3))}
        if rng.random() < 0.5:
            body["completed"] = rng.random() < 0.5
        if rng.random() < 0.3:
            body["title"] = f"renamed {rng.random()}"
        response = await client.put(task, json=body, headers=user.headers)
    elif choice == "toggle":
        response = await client.patch(f"{task}/complete", headers=user.headers)
    elif choice == "delete":
        response = await client.delete(task, headers=user.headers)
    elif choice == "clear":
        response = await client.post(f"{user.tasks}/clear-completed", headers=user.headers)
    else:
        response = await client.post(f"{task}/move", json={"after": None}, headers=user.headers)
    # A concurrent delete may have taken the task first.
    assert response.status_code in (200, 204, 404), response.text


@pytest.mark.parametrize("seed", range(3))
async def test_counts_equal_the_rows_after_any_sequence_of_writes(
    client: httpx.AsyncClient, db: asyncpg.Connection, seed: int
) -> None:
    rng = random.Random(seed)
    user = await register(client)
    for _ in range(60):
        await random_write(client, user, rng)
    assert await kept_counts(db, user) == await counted_rows(db, user)
    await assert_totals_agree(client, user)


@pytest.mark.parametrize("run", range(5))
async def test_counts_equal_the_rows_after_concurrent_writes(
    client: httpx.AsyncClient, db: asyncpg.Connection, run: int
) -> None:
    user = await register(client)
    for n in range(10):
        await create_task(client, user, tags=TAGS[: n % 4], completed=n % 3 == 0)
    rngs = [random.Random(run * 100 + n) for n in range(8)]

    async def writer(rng: random.Random) -> None:
        for _ in range(12):
            await random_write(client, user, rng)

    await asyncio.gather(*(writer(rng) for rng in rngs))
    assert await kept_counts(db, user) == await counted_rows(db, user)
    await assert_totals_agree(client, user)


async def test_tags_route_reads_the_counts_and_leaves_out_tags_no_task_carries(
    client: httpx.AsyncClient, user: User
) -> None:
    first = await create_task(client, user, tags=["work", "home"])
    await create_task(client, user, tags=["work"])
    await client.put(f"{user.tasks}/{first['id']}", json={"tags": ["work"]}, headers=user.headers)
    response = await client.get(f"/api/{user.id}/tags", headers=user.headers)
    assert response.json() == [{"name": "work", "count": 2}]


async def test_deleting_an_account_takes_its_counts_along(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(client)
    await create_task(client, user, tags=["home"])
    response = await client.request(
        "DELETE", "/api/auth/me", json={"password": user.password}, headers=user.headers
    )
    assert response.status_code == 204, response.text
    assert await db.fetchval("SELECT count(*) FROM task_counts WHERE user_id = $1", user.id) == 0


async def test_a_list_total_is_exact_while_the_counts_serve_it(
    client: httpx.AsyncClient, user: User
) -> None:
    for n in range(7):
        await create_task(client, user, tags=["home"] if n % 2 else [], completed=n < 3)
    assert await total(client, user, "status=all") == 7
    assert await total(client, user, "status=completed") == 3
    assert await total(client, user, "status=pending") == 4
    assert await total(client, user, "tag=home") == 3
    assert await total(client, user, "tag=HOME&status=completed") == 1
