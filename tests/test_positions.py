"""Manual order under heavy use stays right and its positions stay short: two tasks moved to the
top alternately 1,000 times; 1,000 tasks moved one after another into one gap (each after the
previous, and each right after the gap's start); positions of new tasks put on top 10,000
times. The lengths are printed (pytest -s) for the closing note."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.conftest import User, create_task

pytestmark = pytest.mark.anyio


async def order(client: httpx.AsyncClient, user: User) -> list[dict[str, object]]:
    tasks: list[dict[str, object]] = []
    url: str | None = f"{user.tasks}?sort=position&limit=500"
    while url:
        r = await client.get(url, headers=user.headers)
        tasks += r.json()
        url = r.links.get("next", {}).get("url")
    positions = [str(t["position"]) for t in tasks]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    return tasks


async def move(client: httpx.AsyncClient, user: User, task: int, after: int | None) -> str:
    r = await client.post(f"{user.tasks}/{task}/move", json={"after": after}, headers=user.headers)
    assert r.status_code == 200, r.text
    position: str = r.json()["position"]
    return position


async def test_two_tasks_to_the_top_alternately_1000_times(
    client: httpx.AsyncClient, user: User
) -> None:
    ids = [(await create_task(client, user, title=f"t{n}"))["id"] for n in range(5)]
    a, b = ids[1], ids[3]
    longest = 0
    for n in range(1000):
        moved = (a, b)[n % 2]
        longest = max(longest, len(await move(client, user, moved, None)))
    tasks = await order(client, user)
    assert [t["id"] for t in tasks][:2] == [b, a]
    print(f"\ntwo tasks to the top alternately 1000 times: longest position {longest}")
    assert longest <= 4


@pytest.mark.parametrize("chain", [True, False], ids=["each-after-the-previous", "each-first"])
async def test_1000_tasks_into_one_gap(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, chain: bool
) -> None:
    await db.execute(
        "INSERT INTO tasks (user_id, title) SELECT $1, 't' || i FROM generate_series(1, 1002) i",
        user.id,
    )
    tasks = await order(client, user)
    start, end = tasks[500]["id"], tasks[501]["id"]
    movers = [int(str(t["id"])) for t in tasks[:500] + tasks[502:]]
    longest, previous = 0, start
    for task in movers:
        longest = max(longest, len(await move(client, user, task, previous)))
        if chain:
            previous = task
    after = [t["id"] for t in await order(client, user)]
    expected = movers if chain else movers[::-1]
    assert after == [start, *expected, end]
    print(f"\n1000 tasks into one gap ({'chained' if chain else 'each first'}): longest {longest}")
    assert longest <= 8


async def test_10000_new_tasks_on_top_have_short_positions(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO tasks (user_id, title) SELECT $1, 't' || i FROM generate_series(1, 10000) i",
        user.id,
    )
    longest = await db.fetchval(
        "SELECT max(length(position)) FROM tasks WHERE user_id = $1", user.id
    )
    newest = await create_task(client, user)
    assert (await order(client, user))[0]["id"] == newest["id"]
    print(f"\n10000 tasks created on top: longest position {longest}")
    assert longest <= 5
