"""Idempotency-Key: a client on a flaky connection retries a create or a toggle without fear.
The first success is kept in PostgreSQL and replayed; anything else about the key is refused."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.types import ASGIApp

from tests.conftest import User, assert_problem, client_for, create_task

pytestmark = pytest.mark.anyio


def keyed(user: User, key: str | None = None) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key or uuid.uuid4().hex}


async def count(db: asyncpg.Connection, user: User) -> int:
    found: int = await db.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.id)
    return found


async def test_a_retried_create_gets_the_first_response_and_makes_one_task(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    headers = keyed(user)
    first = await client.post(user.tasks, json={"title": "once", "tags": ["a"]}, headers=headers)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    # The same body as a JSON value: other key order, other white space.
    again = await client.post(
        user.tasks,
        content=b'{ "tags" : ["a"],\n "title":"once" }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    for name in ("location", "etag"):
        assert again.headers[name] == first.headers[name]
    assert await count(db, user) == 1


async def test_a_retried_toggle_does_not_flip_twice(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user)
    headers = keyed(user)
    path = f"{user.tasks}/{task['id']}/complete"
    first = await client.patch(path, headers=headers)
    again = await client.patch(path, headers=headers)
    assert first.json()["completed"] is True and again.json()["completed"] is True
    assert again.headers["idempotent-replayed"] == "true"
    r = await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
    assert r.json()["completed"] is True and r.json()["version"] == 2


async def test_the_same_key_for_another_request_is_422_and_changes_nothing(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    task = await create_task(client, user)
    headers = keyed(user)
    assert (await client.post(user.tasks, json={"title": "a"}, headers=headers)).status_code == 201
    before = await count(db, user)
    other_body = await client.post(user.tasks, json={"title": "b"}, headers=headers)
    other_path = await client.patch(f"{user.tasks}/{task['id']}/complete", headers=headers)
    for r in (other_body, other_path):
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await count(db, user) == before
    r = await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
    assert r.json()["completed"] is False


async def test_only_successes_are_kept_so_a_failed_first_request_frees_the_key(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = keyed(user)
    missing = await client.patch(f"{user.tasks}/999999999/complete", headers=headers)
    assert_problem(missing, 404)
    task = await create_task(client, user)
    path = f"{user.tasks}/{task['id']}/complete"
    # The same key, now for a request that succeeds: it runs (nothing was kept).
    assert (await client.patch(path, headers=headers)).status_code == 200
    stale = {**headers, "If-Match": '"1"'}
    retry = await client.patch(path, headers=stale)
    assert retry.headers.get("idempotent-replayed") == "true"  # the kept success, not a 412


async def test_keys_of_different_users_never_meet(
    client: httpx.AsyncClient, user: User, other: User, db: asyncpg.Connection
) -> None:
    key = uuid.uuid4().hex
    a = await client.post(user.tasks, json={"title": "mine"}, headers=keyed(user, key))
    b = await client.post(other.tasks, json={"title": "theirs"}, headers=keyed(other, key))
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers and b.json()["user_id"] == other.id


@pytest.mark.parametrize("key", ["", " ", "a" * 256, "é", "tab\there", "new\nline"])
async def test_a_malformed_key_is_400(client: httpx.AsyncClient, user: User, key: str) -> None:
    headers = {**user.headers, "Idempotency-Key": key}
    try:
        r = await client.post(user.tasks, json={"title": "x"}, headers=headers)
    except (httpx.LocalProtocolError, UnicodeEncodeError):
        return  # not even sendable as a header
    assert_problem(r, 400)


async def test_expired_keys_are_forgotten_without_a_job(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    headers = keyed(user)
    await client.post(user.tasks, json={"title": "old"}, headers=headers)
    await db.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1",
        user.id,
    )
    r = await client.post(user.tasks, json={"title": "new"}, headers=keyed(user))
    assert r.status_code == 201
    kept = await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE user_id = $1", user.id)
    assert kept == 1  # the old one went when the new one came
    again = await client.post(user.tasks, json={"title": "old again"}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers


@pytest.mark.parametrize("run", range(5))
async def test_twenty_concurrent_creates_with_one_key_make_one_task(
    app: ASGIApp, user: User, db: asyncpg.Connection, run: int
) -> None:
    headers = keyed(user)
    before = await count(db, user)
    async with client_for(app) as client:

        async def create(_: int) -> httpx.Response:
            return await client.post(user.tasks, json={"title": "one"}, headers=headers)

        answers = await asyncio.gather(*(create(n) for n in range(20)))
    assert await count(db, user) == before + 1
    created: list[dict[str, Any]] = [r.json() for r in answers if r.status_code == 201]
    assert created and all(task == created[0] for task in created)
    assert {r.status_code for r in answers} <= {201, 409}
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409)
