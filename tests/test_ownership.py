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


async def test_another_users_list_behaves_as_a_missing_one_everywhere(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    """Path: 404, as for a missing list (same detail). Body (list_id on create, PUT, move),
    query (?list=) and a list move's `after`: 422 at that field, as for a missing list. Under
    the owner's path with another token: 403. Nothing of the owner's changes."""
    lists = f"/api/{user.id}/lists"
    made = await client.post(lists, json={"name": "Mine"}, headers=user.headers)
    mine = made.json()
    task = await create_task(client, user, list_id=mine["id"])
    own_lists = f"/api/{other.id}/lists"
    their_list = (
        await client.post(own_lists, json={"name": "Theirs"}, headers=other.headers)
    ).json()
    their_task = await create_task(client, other, list_id=their_list["id"])
    before = (await client.get(lists, headers=user.headers)).json()
    tasks_before = await snapshot(client, user)

    for list_id in (mine["id"], 987654321):
        item = f"{own_lists}/{list_id}"
        path_attempts = [
            client.get(item, headers=other.headers),
            client.patch(item, json={"name": "hacked"}, headers=other.headers),
            client.delete(item, headers=other.headers),
            client.post(f"{item}/move", json={"after": None}, headers=other.headers),
        ]
        for attempt in path_attempts:
            body = assert_problem(await attempt, 404)
            assert body["detail"] == f"List {list_id} not found"
        field_attempts = [
            (
                client.post(
                    other.tasks, json={"title": "x", "list_id": list_id}, headers=other.headers
                ),
                ["body", "list_id"],
            ),
            (
                client.put(
                    f"{other.tasks}/{their_task['id']}",
                    json={"list_id": list_id},
                    headers=other.headers,
                ),
                ["body", "list_id"],
            ),
            (
                client.post(
                    f"{other.tasks}/{their_task['id']}/move",
                    json={"after": None, "list_id": list_id},
                    headers=other.headers,
                ),
                ["body", "list_id"],
            ),
            (
                client.get(f"{other.tasks}?list={list_id}", headers=other.headers),
                ["query", "list"],
            ),
            (
                client.post(
                    f"{own_lists}/{their_list['id']}/move",
                    json={"after": list_id},
                    headers=other.headers,
                ),
                ["body", "after"],
            ),
        ]
        for attempt, loc in field_attempts:
            body = assert_problem(await attempt, 422)
            assert body["errors"][0]["loc"] == loc
    # The owner's task moved after by another user's move: `after` is not one of theirs.
    moved = await client.post(
        f"{other.tasks}/{their_task['id']}/move", json={"after": task["id"]}, headers=other.headers
    )
    assert assert_problem(moved, 422)["errors"][0]["loc"] == ["body", "after"]
    # The owner's path with another user's token: 403 on every list route.
    item = f"{lists}/{mine['id']}"
    for attempt in (
        client.get(lists, headers=other.headers),
        client.post(lists, json={"name": "intruder"}, headers=other.headers),
        client.get(item, headers=other.headers),
        client.patch(item, json={"name": "hacked"}, headers=other.headers),
        client.delete(item, headers=other.headers),
        client.post(f"{item}/move", json={"after": None}, headers=other.headers),
    ):
        assert_problem(await attempt, 403)
    assert (await client.get(lists, headers=user.headers)).json() == before
    assert await snapshot(client, user) == tasks_before
