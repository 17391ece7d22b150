"""The kept counts (task_counts, migrations/0006 and 0007) that X-Total-Count, GET /tags and the
lists' task_count and pending_count read instead of counting a user's rows: after any mix of
writes (lists made and deleted, tasks moved between them), sequential or concurrent, they equal
what counting the rows gives, and a list answers the same total whether it reads them or
counts."""

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


# Every kind of write, creates twice as often.
WRITES = (
    "create",
    "create",
    "update",
    "toggle",
    "delete",
    "clear",
    "move",
    "new list",
    "delete list",
    "move to list",
    "put list",
)
Scope = tuple[int, str]  # (list id, 0 for the whole pile; tag, '' for all)


async def kept_counts(db: asyncpg.Connection, user: User) -> dict[Scope, tuple[int, int]]:
    rows = await db.fetch(
        "SELECT list_id, tag, tasks, completed FROM task_counts WHERE user_id = $1 AND tasks > 0",
        user.id,
    )
    return {(r["list_id"], r["tag"]): (r["tasks"], r["completed"]) for r in rows}


async def counted_rows(db: asyncpg.Connection, user: User) -> dict[Scope, tuple[int, int]]:
    """The same, counted from the rows: the whole pile in all and per tag, each list in all."""
    rows = await db.fetch(
        """SELECT 0::bigint AS list_id, tag, count(*) AS tasks,
                  count(*) FILTER (WHERE completed) AS completed
           FROM tasks CROSS JOIN LATERAL unnest(array_prepend(''::text, tags)) AS tag
           WHERE user_id = $1 GROUP BY tag
           UNION ALL
           SELECT list_id, '', count(*), count(*) FILTER (WHERE completed)
           FROM tasks WHERE user_id = $1 GROUP BY list_id""",
        user.id,
    )
    return {(r["list_id"], r["tag"]): (r["tasks"], r["completed"]) for r in rows}


async def assert_list_counts_agree(
    client: httpx.AsyncClient, db: asyncpg.Connection, user: User
) -> None:
    """GET /lists shows each list's counts as the rows count them (0 for an empty list), and
    a list's total, read from the counts, equals the same list's total counted row by row."""
    rows = await counted_rows(db, user)
    r = await client.get(f"/api/{user.id}/lists", headers=user.headers)
    assert r.status_code == 200, r.text
    for shown in r.json():
        tasks, completed = rows.get((shown["id"], ""), (0, 0))
        assert (shown["task_count"], shown["pending_count"]) == (tasks, tasks - completed)
        for status in ("all", "pending", "completed"):
            query = f"list={shown['id']}&status={status}"
            assert await total(client, user, query) == await total(
                client, user, query + ALL_PRIORITIES
            ), query


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
    """One write of any kind the API has, on a random task (or list) of the user's (if any)."""
    listed = await client.get(f"{user.tasks}?limit=500", headers=user.headers)
    ids = [t["id"] for t in listed.json()]
    lists = (await client.get(f"/api/{user.id}/lists", headers=user.headers)).json()
    list_ids = [lst["id"] for lst in lists]
    others = [lst["id"] for lst in lists if not lst["is_default"]]
    choice = rng.choice(WRITES)
    if choice == "new list" or (choice == "delete list" and not others):
        name = f"list {rng.random()}"
        response = await client.post(
            f"/api/{user.id}/lists", json={"name": name}, headers=user.headers
        )
        assert response.status_code in (201, 422), response.text  # 422: at the limit
        return
    if choice == "delete list":
        url = f"/api/{user.id}/lists/{rng.choice(others)}"
        response = await client.delete(url, headers=user.headers)
        assert response.status_code in (204, 404), response.text
        return
    if choice == "create" or not ids:
        tags = rng.sample(TAGS, rng.randint(0, 3))
        fields: dict[str, Any] = {"tags": tags, "completed": rng.random() < 0.3}
        response = await client.post(
            user.tasks,
            json={"title": "a task", **fields, "list_id": rng.choice([None, *list_ids])},
            headers=user.headers,
        )
        # 422: a concurrent writer deleted the list.
        assert response.status_code in (201, 422), response.text
        return
    task = f"{user.tasks}/{rng.choice(ids)}"
    if choice == "move to list":
        body: dict[str, Any] = {"after": None, "list_id": rng.choice(list_ids)}
        response = await client.post(f"{task}/move", json=body, headers=user.headers)
        assert response.status_code in (200, 404, 422), response.text
        return
    if choice in ("update", "put list"):
        body = {"tags": rng.sample(TAGS, rng.randint(0, 3))}
        if rng.random() < 0.5:
            body["completed"] = rng.random() < 0.5
        if rng.random() < 0.3:
            body["title"] = f"renamed {rng.random()}"
        if choice == "put list":
            body["list_id"] = rng.choice(list_ids)
        response = await client.put(task, json=body, headers=user.headers)
        assert response.status_code in (200, 404, 422), response.text
        return
    if choice == "toggle":
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
    await assert_list_counts_agree(client, db, user)


@pytest.mark.parametrize("run", range(5))
async def test_counts_equal_the_rows_at_every_moment_of_concurrent_writes(
    client: httpx.AsyncClient, db: asyncpg.Connection, database_url: str, run: int
) -> None:
    user = await register(client)
    for n in range(10):
        await create_task(client, user, tags=TAGS[: n % 4], completed=n % 3 == 0)
    rngs = [random.Random(run * 100 + n) for n in range(8)]

    async def writer(rng: random.Random) -> None:
        for _ in range(12):
            await random_write(client, user, rng)

    writers = asyncio.gather(*(writer(rng) for rng in rngs))
    # At every moment: any snapshot taken while they write sees counts equal to its rows.
    checks = 0
    watcher = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        while not writers.done() or checks == 0:
            async with watcher.transaction(isolation="repeatable_read", readonly=True):
                assert await kept_counts(watcher, user) == await counted_rows(watcher, user)
            checks += 1
            await asyncio.sleep(0.01)
    finally:
        await watcher.close()
    await writers
    assert await kept_counts(db, user) == await counted_rows(db, user)
    await assert_totals_agree(client, user)
    await assert_list_counts_agree(client, db, user)


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
