"""Many requests at once: nothing lost, nothing doubled, the final state exact."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, client_for, create_task, register, running
from todo_api.app import create_app
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio


async def test_100_concurrent_creates_all_land(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(user.tasks, json={"title": f"t{n}"}, headers=user.headers)
            for n in range(100)
        )
    )
    assert [r.status_code for r in responses] == [201] * 100
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 100
    stored = await db.fetch("SELECT id, title FROM tasks WHERE user_id = $1", user.id)
    assert {r["id"] for r in stored} == ids
    assert sorted(r["title"] for r in stored) == sorted(f"t{n}" for n in range(100))
    listed = await client.get(f"{user.tasks}?limit=500", headers=user.headers)
    assert listed.headers["x-total-count"] == "100"


@pytest.mark.parametrize("toggles", [100, 101])
async def test_concurrent_toggles_of_one_task_are_exact(
    client: httpx.AsyncClient, user: User, toggles: int
) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}/complete"
    responses = await asyncio.gather(
        *(client.patch(url, headers=user.headers) for _ in range(toggles))
    )
    assert all(r.status_code == 200 for r in responses)
    states = [r.json()["completed"] for r in responses]
    # Each toggle saw a distinct state of the row: exactly half (rounded up) ended completed.
    assert states.count(True) == (toggles + 1) // 2
    final = (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).json()
    assert final["completed"] is (toggles % 2 == 1)
    assert (final["completed_at"] is None) is (not final["completed"])


async def test_concurrent_registrations_of_one_name_create_one_user(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = await register(client)
    await db.execute("DELETE FROM users WHERE id = $1", first.id)
    body = {"email": first.email, "username": first.username, "password": first.password}
    responses = await asyncio.gather(
        *(client.post("/api/auth/register", json=body) for _ in range(10))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1
    assert set(codes) <= {201, 409, 429}
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", first.email) == 1


async def test_a_hashing_storm_gets_429_with_retry_after_and_creates_nothing_for_it(
    settings: Settings, db: asyncpg.Connection
) -> None:
    busy = settings.model_copy(
        update={"bcrypt_rounds": 12, "bcrypt_concurrency": 1, "bcrypt_wait_seconds": 0.05}
    )
    async with running(create_app(busy)) as app, client_for(app) as client:
        names = [f"storm{uuid.uuid4().hex[:10]}" for _ in range(6)]
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/auth/register",
                    json={"email": f"{n}@example.com", "username": n, "password": "password1"},
                )
                for n in names
            )
        )
        created = [r for r in responses if r.status_code == 201]
        refused = [r for r in responses if r.status_code == 429]
        assert created and refused and len(created) + len(refused) == len(names)
        for r in refused:
            assert_problem(r, 429)
            assert int(r.headers["retry-after"]) >= 1
        stored = await db.fetchval("SELECT count(*) FROM users WHERE username = ANY($1)", names)
        assert stored == len(created)
        health = await client.get("/health")
        assert health.status_code == 200


async def test_50_concurrent_moves_keep_positions_distinct_and_every_task_listed(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    ids = [(await create_task(client, user, title=f"t{n}"))["id"] for n in range(30)]
    rng = random.Random()
    for _ in range(3):
        moves = []
        for _ in range(50):
            task = rng.choice(ids)
            after = rng.choice([None, *[i for i in ids if i != task]])
            moves.append(
                client.post(
                    f"{user.tasks}/{task}/move", json={"after": after}, headers=user.headers
                )
            )
        responses = await asyncio.gather(*moves)
        assert [r.status_code for r in responses] == [200] * 50, [r.text for r in responses]
        listed = await client.get(f"{user.tasks}?sort=position&limit=500", headers=user.headers)
        tasks = listed.json()
        assert sorted(t["id"] for t in tasks) == sorted(ids)
        positions = [t["position"] for t in tasks]
        assert positions == sorted(positions) and len(set(positions)) == len(ids)
        stored = await db.fetch(
            "SELECT id, position FROM tasks WHERE user_id = $1 ORDER BY position", user.id
        )
        assert [r["id"] for r in stored] == [t["id"] for t in tasks]


async def test_concurrent_moves_into_one_list_never_give_two_tasks_one_position(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    """Tasks of three lists moved at once into one of them (after random tasks of it, or to its
    top), by move with list_id and by PUT: the target list's order stays total."""
    lists_url = f"/api/{user.id}/lists"
    names = ("target", "a", "b")
    lists = {}
    for name in names:
        r = await client.post(lists_url, json={"name": name}, headers=user.headers)
        lists[name] = r.json()["id"]
    ids = {
        name: [
            (await create_task(client, user, title=f"{name}{n}", list_id=lists[name]))["id"]
            for n in range(10)
        ]
        for name in names
    }
    target = lists["target"]
    rng = random.Random()
    incoming = ids["a"] + ids["b"]
    rng.shuffle(incoming)
    moves = []
    for n, task in enumerate(incoming):
        if n % 4 == 3:
            moves.append(
                client.put(f"{user.tasks}/{task}", json={"list_id": target}, headers=user.headers)
            )
            continue
        after = rng.choice([None, *ids["target"]])
        body = {"after": after, "list_id": target}
        moves.append(client.post(f"{user.tasks}/{task}/move", json=body, headers=user.headers))
    # Meanwhile the target's own tasks move within it.
    for task in ids["target"][:10]:
        after = rng.choice([None, *[i for i in ids["target"] if i != task]])
        moves.append(
            client.post(f"{user.tasks}/{task}/move", json={"after": after}, headers=user.headers)
        )
    responses = await asyncio.gather(*moves)
    assert [r.status_code for r in responses] == [200] * len(moves), [r.text for r in responses]
    listed = await client.get(
        f"{user.tasks}?list={target}&sort=position&limit=500", headers=user.headers
    )
    tasks = listed.json()
    assert sorted(t["id"] for t in tasks) == sorted(ids["target"] + incoming)
    positions = [t["position"] for t in tasks]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    stored = await db.fetch(
        "SELECT id FROM tasks WHERE user_id = $1 AND list_id = $2 ORDER BY position",
        user.id,
        target,
    )
    assert [r["id"] for r in stored] == [t["id"] for t in tasks]
    shown = await client.get(f"{lists_url}/{target}", headers=user.headers)
    assert shown.json()["task_count"] == 30


async def test_concurrent_list_moves_keep_the_order_of_lists_total(
    client: httpx.AsyncClient, user: User
) -> None:
    lists_url = f"/api/{user.id}/lists"
    ids = [
        (await client.post(lists_url, json={"name": f"l{n}"}, headers=user.headers)).json()["id"]
        for n in range(12)
    ]
    rng = random.Random()
    moves = []
    for _ in range(40):
        moved = rng.choice(ids)
        after = rng.choice([None, *[i for i in ids if i != moved]])
        moves.append(
            client.post(f"{lists_url}/{moved}/move", json={"after": after}, headers=user.headers)
        )
    responses = await asyncio.gather(*moves)
    assert [r.status_code for r in responses] == [200] * 40, [r.text for r in responses]
    shown = (await client.get(lists_url, headers=user.headers)).json()
    positions = [lst["position"] for lst in shown]
    assert positions == sorted(positions) and len(set(positions)) == 13
