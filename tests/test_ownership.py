"""A second user's token against every task route of the first user: 403 on the first user's
path, 404 for the first user's task ids under their own path, and nothing changes."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio


async def snapshot(client: httpx.AsyncClient, owner: User) -> list[dict[str, object]]:
    r = await client.get(owner.tasks, headers=owner.headers)
    assert r.status_code == 200
    tasks: list[dict[str, object]] = r.json()
    return tasks


async def test_other_users_path_is_403_on_every_route(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    task = await create_task(client, user, description="mine")
    before = await snapshot(client, user)
    item = f"{user.tasks}/{task['id']}"
    attempts = [
        client.get(user.tasks, headers=other.headers),
        client.post(user.tasks, json={"title": "intruder"}, headers=other.headers),
        client.get(item, headers=other.headers),
        client.put(item, json={"title": "hacked"}, headers=other.headers),
        client.patch(f"{item}/complete", headers=other.headers),
        client.patch(f"{item}/complete", json={"completed": True}, headers=other.headers),
        client.delete(item, headers=other.headers),
    ]
    for attempt in attempts:
        assert_problem(await attempt, 403)
    assert await snapshot(client, user) == before


async def test_other_users_task_ids_are_404_under_own_path(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    task = await create_task(client, user, description="mine")
    before = await snapshot(client, user)
    item = f"{other.tasks}/{task['id']}"
    attempts = [
        client.get(item, headers=other.headers),
        client.put(item, json={"title": "hacked"}, headers=other.headers),
        client.put(item, json={"description": None}, headers=other.headers),
        client.patch(f"{item}/complete", headers=other.headers),
        client.patch(f"{item}/complete", json={"completed": True}, headers=other.headers),
        client.delete(item, headers=other.headers),
    ]
    missing = assert_problem(
        await client.get(f"{other.tasks}/987654321", headers=other.headers), 404
    )
    for attempt in attempts:
        body = assert_problem(await attempt, 404)
        # Indistinguishable from a task that does not exist at all.
        assert body["detail"] == missing["detail"].replace("987654321", str(task["id"]))
    assert await snapshot(client, user) == before
    assert await snapshot(client, other) == []


async def test_listing_shows_only_own_tasks(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    mine = await create_task(client, user, title="mine")
    await create_task(client, other, title="theirs")
    r = await client.get(f"{user.tasks}?q=t", headers=user.headers)
    assert [t["id"] for t in await snapshot(client, user)] == [mine["id"]]
    assert r.json() == []
    assert r.headers["x-total-count"] == "0"
