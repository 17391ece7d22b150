"""The six task routes on the happy path, and the completed/updated_at rules."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio

CONTRACT_FIELDS = (
    "id user_id title description completed completed_at due_date priority tags position version"
    " created_at updated_at"
    " list_id"
    " due_time time_zone due_at recurrence recurrence_basis occurrence last_completed_at reminders"
)
TASK_KEYS = set(CONTRACT_FIELDS.split())


async def test_create_returns_201_location_and_the_stored_task(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    r = await client.post(
        user.tasks, json={"title": "  Buy milk\t", "description": "2 litres"}, headers=user.headers
    )
    assert r.status_code == 201
    task = r.json()
    assert set(task) == TASK_KEYS
    assert r.headers["location"] == f"{user.tasks}/{task['id']}"
    assert task["title"] == "Buy milk"
    assert task["description"] == "2 litres"
    assert task["completed"] is False and task["completed_at"] is None
    assert task["user_id"] == user.id
    assert task["created_at"] == task["updated_at"] and task["created_at"].endswith("Z")
    stored = await db.fetchrow("SELECT title, description FROM tasks WHERE id = $1", task["id"])
    assert dict(stored) == {"title": "Buy milk", "description": "2 litres"}


async def test_create_completed_sets_completed_at(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, completed=True)
    assert task["completed"] is True
    assert task["completed_at"] is not None


async def test_empty_description_is_kept(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, description="")
    assert task["description"] == ""


async def test_read_only_and_unknown_fields_are_ignored(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    body = {
        "title": "t",
        "id": 999999,
        "user_id": other.id,
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
        "completed_at": "2000-01-01T00:00:00Z",
        "colour": "red",
    }
    r = await client.post(user.tasks, json=body, headers=user.headers)
    assert r.status_code == 201
    task = r.json()
    assert task["id"] != 999999
    assert task["user_id"] == user.id
    assert not task["created_at"].startswith("2000")
    assert task["completed_at"] is None
    r = await client.put(
        f"{user.tasks}/{task['id']}", json={**body, "title": "u"}, headers=user.headers
    )
    assert r.status_code == 200
    assert r.json()["user_id"] == user.id and r.json()["id"] == task["id"]
    assert r.json()["created_at"] == task["created_at"]


async def test_get_returns_the_task(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user)
    r = await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
    assert r.status_code == 200
    assert r.json() == task


async def test_put_changes_only_given_fields(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, title="old", description="keep")
    r = await client.put(
        f"{user.tasks}/{task['id']}", json={"title": " new "}, headers=user.headers
    )
    assert r.status_code == 200
    updated = r.json()
    assert updated["title"] == "new"
    assert updated["description"] == "keep"
    assert updated["completed"] is False
    assert updated["updated_at"] > task["updated_at"]
    assert updated["created_at"] == task["created_at"]


async def test_put_null_description_clears_it(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, description="something")
    r = await client.put(
        f"{user.tasks}/{task['id']}", json={"description": None}, headers=user.headers
    )
    assert r.status_code == 200
    assert r.json()["description"] is None
    assert r.json()["title"] == task["title"]


async def test_put_completed_sets_and_clears_completed_at(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}"
    done = (await client.put(url, json={"completed": True}, headers=user.headers)).json()
    assert done["completed"] is True and done["completed_at"] is not None
    again = (await client.put(url, json={"completed": True}, headers=user.headers)).json()
    assert again == done  # nothing changed: updated_at and completed_at stay
    undone = (await client.put(url, json={"completed": False}, headers=user.headers)).json()
    assert undone["completed"] is False and undone["completed_at"] is None
    assert undone["updated_at"] > done["updated_at"]


async def test_put_with_the_same_values_changes_nothing(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, title="same", description="same")
    url = f"{user.tasks}/{task['id']}"
    r = await client.put(
        url, json={"title": "same", "description": "same", "completed": False}, headers=user.headers
    )
    assert r.json() == task


async def test_patch_without_body_flips(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}/complete"
    first = await client.patch(url, headers=user.headers)
    assert first.status_code == 200
    assert first.json()["completed"] is True and first.json()["completed_at"] is not None
    second = await client.patch(url, headers=user.headers)
    assert second.json()["completed"] is False and second.json()["completed_at"] is None
    third = await client.patch(url, json={}, headers=user.headers)
    assert third.json()["completed"] is True
    fourth = await client.patch(url, json={"colour": "red"}, headers=user.headers)
    assert fourth.json()["completed"] is False


async def test_patch_with_a_value_sets_it_and_is_safe_to_retry(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}/complete"
    first = (await client.patch(url, json={"completed": True}, headers=user.headers)).json()
    second = (await client.patch(url, json={"completed": True}, headers=user.headers)).json()
    assert first["completed"] is True
    assert second == first
    off = (await client.patch(url, json={"completed": False}, headers=user.headers)).json()
    assert off["completed"] is False and off["completed_at"] is None
    assert (await client.patch(url, json={"completed": False}, headers=user.headers)).json() == off


async def test_completed_at_is_when_it_last_became_completed(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}/complete"
    first = (await client.patch(url, headers=user.headers)).json()["completed_at"]
    await client.patch(url, headers=user.headers)
    await asyncio.sleep(0.01)
    later = (await client.patch(url, headers=user.headers)).json()["completed_at"]
    assert later > first


async def test_delete_is_204_then_404(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}"
    r = await client.delete(url, headers=user.headers)
    assert r.status_code == 204
    assert r.content == b""
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE id = $1", task["id"]) == 0
    assert_problem(await client.delete(url, headers=user.headers), 404)
    assert_problem(await client.get(url, headers=user.headers), 404)


async def test_missing_task_detail_names_it(client: httpx.AsyncClient, user: User) -> None:
    body = assert_problem(await client.get(f"{user.tasks}/987654321", headers=user.headers), 404)
    assert body["detail"] == "Task 987654321 not found"


@pytest.mark.parametrize(
    "task_id", ["0", "-1", "abc", "1.5", "01", "9223372036854775808", "99999999999999999999", "%20"]
)
async def test_task_id_that_is_not_a_positive_64_bit_integer_is_404(
    client: httpx.AsyncClient, user: User, task_id: str
) -> None:
    url = f"{user.tasks}/{task_id}"
    assert_problem(await client.get(url, headers=user.headers), 404)
    assert_problem(await client.put(url, json={"title": "x"}, headers=user.headers), 404)
    assert_problem(await client.delete(url, headers=user.headers), 404)
    assert_problem(await client.patch(f"{url}/complete", headers=user.headers), 404)


async def test_largest_task_id_is_a_plain_404(client: httpx.AsyncClient, user: User) -> None:
    assert_problem(await client.get(f"{user.tasks}/9223372036854775807", headers=user.headers), 404)


async def test_deleting_a_user_deletes_their_tasks(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await create_task(client, user)
    await db.execute("DELETE FROM users WHERE id = $1", user.id)
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.id) == 0
