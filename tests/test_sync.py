"""The change feed: a client that applies every change and calls again with `next` ends with
exactly the server's tasks, even while other requests write and commit in any order."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.types import ASGIApp

from tests.conftest import TEST_SECRET, User, assert_problem, client_for, create_task
from todo_api.caller import Caller
from todo_api.db.queries import query
from todo_api.db.tasks import NO_SCHEDULE
from todo_api.sync_tokens import REISSUE_AFTER_SECONDS, FeedPosition, SyncTokens

pytestmark = pytest.mark.anyio


def changes_url(user: User) -> str:
    return f"{user.tasks}/changes"


async def sync(
    client: httpx.AsyncClient, user: User, copy: dict[int, dict[str, Any]], since: str | None
) -> str:
    """Apply pages of changes to `copy` until the feed says there is no more; the next token."""
    while True:
        params: dict[str, Any] = {"limit": 7}
        if since is not None:
            params["since"] = since
        r = await client.get(changes_url(user), params=params, headers=user.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        ids = [change["id"] for change in page["changes"]]
        assert len(ids) == len(set(ids))  # a task at most once per response
        for change in page["changes"]:
            if change.get("deleted"):
                copy.pop(change["id"], None)
            else:
                copy[change["id"]] = change
        since = page["next"]
        if not page["more"]:
            return since


async def server_tasks(client: httpx.AsyncClient, user: User) -> dict[int, dict[str, Any]]:
    r = await client.get(user.tasks, params={"limit": 500}, headers=user.headers)
    assert r.status_code == 200 and "link" not in r.headers
    return {task["id"]: task for task in r.json()}


async def test_without_a_token_the_feed_is_every_task_and_then_nothing(
    client: httpx.AsyncClient, user: User
) -> None:
    for n in range(10):
        await create_task(client, user, title=f"t{n}")
    copy: dict[int, dict[str, Any]] = {}
    token = await sync(client, user, copy, None)
    assert copy == await server_tasks(client, user)
    r = await client.get(changes_url(user), params={"since": token}, headers=user.headers)
    assert r.json()["changes"] == [] and r.json()["more"] is False


async def test_changes_and_deletions_after_a_token_arrive_once_each(
    client: httpx.AsyncClient, user: User
) -> None:
    tasks = [await create_task(client, user, title=f"t{n}", completed=n % 2 == 0) for n in range(6)]
    copy: dict[int, dict[str, Any]] = {}
    token = await sync(client, user, copy, None)
    await client.put(f"{user.tasks}/{tasks[1]['id']}", json={"title": "x"}, headers=user.headers)
    await client.put(f"{user.tasks}/{tasks[1]['id']}", json={"title": "y"}, headers=user.headers)
    await client.delete(f"{user.tasks}/{tasks[3]['id']}", headers=user.headers)
    await client.post(f"{user.tasks}/clear-completed", headers=user.headers)
    r = await client.get(changes_url(user), params={"since": token}, headers=user.headers)
    changes = r.json()["changes"]
    tombstones = {c["id"] for c in changes if c.get("deleted")}
    assert tombstones == {tasks[0]["id"], tasks[2]["id"], tasks[3]["id"], tasks[4]["id"]}
    assert all(set(c) == {"id", "deleted", "deleted_at"} for c in changes if c.get("deleted"))
    updated = [c for c in changes if not c.get("deleted")]
    assert [c["title"] for c in updated] == ["y"]  # its current state, once
    await sync(client, user, copy, token)
    assert copy == await server_tasks(client, user)


async def test_bad_tokens_are_422_and_old_ones_410(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    tokens = SyncTokens(TEST_SECRET, history_days=30)
    theirs = tokens.encode(other.id, FeedPosition(1, 1))
    forged = SyncTokens("another-secret-that-is-long-enough-000000", 30).encode(
        user.id, FeedPosition(1, 1)
    )
    for bad in (theirs, forged, "not-a-token", "", "x" * 2000):
        r = await client.get(changes_url(user), params={"since": bad}, headers=user.headers)
        assert_problem(r, 422)
    old = tokens.encode(user.id, FeedPosition(1, 1), now=time.time() - 31 * 86400)
    r = await client.get(changes_url(user), params={"since": old}, headers=user.headers)
    assert_problem(r, 410)
    for limit in ("0", "1001", "x"):
        r = await client.get(changes_url(user), params={"limit": limit}, headers=user.headers)
        assert_problem(r, 422)
    r = await client.get(changes_url(other), headers=user.headers)
    assert_problem(r, 403)


async def test_an_up_to_date_client_gets_its_recent_token_back_and_an_older_one_renewed(
    client: httpx.AsyncClient, user: User
) -> None:
    await create_task(client, user)
    first = (await client.get(changes_url(user), headers=user.headers)).json()
    again = await client.get(
        changes_url(user), params={"since": first["next"]}, headers=user.headers
    )
    assert again.json() == {"changes": [], "next": first["next"], "more": False}
    # A token from two hours ago at the same place: a fresh one, so its date moves on.
    tokens = SyncTokens(TEST_SECRET, history_days=30)
    position = tokens.decode(first["next"], user.id).position
    older = tokens.encode(user.id, position, now=time.time() - 2 * REISSUE_AFTER_SECONDS)
    renewed = (
        await client.get(changes_url(user), params={"since": older}, headers=user.headers)
    ).json()
    assert renewed["changes"] == [] and renewed["next"] != older
    assert tokens.decode(renewed["next"], user.id).position == position
    # A change moves the token on.
    await create_task(client, user)
    moved = (
        await client.get(changes_url(user), params={"since": first["next"]}, headers=user.headers)
    ).json()
    assert len(moved["changes"]) == 1 and moved["next"] != first["next"]


async def test_old_tombstones_go_without_a_job_and_an_account_takes_its_history_along(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    task = await create_task(client, user)
    await client.delete(f"{user.tasks}/{task['id']}", headers=user.headers)
    count = "SELECT count(*) FROM task_tombstones WHERE user_id = $1"
    assert await db.fetchval(count, user.id) == 1
    await db.execute(
        "UPDATE task_tombstones SET deleted_at = now() - interval '40 days' WHERE user_id = $1",
        user.id,
    )
    await client.get(changes_url(user), headers=user.headers)
    assert await db.fetchval(count, user.id) == 0
    await create_task(client, user)
    await db.execute("DELETE FROM users WHERE id = $1", user.id)
    assert await db.fetchval(count, user.id) == 0


async def test_a_later_number_never_commits_before_an_earlier_one_of_the_same_user(
    client: httpx.AsyncClient, user: User, database_url: str
) -> None:
    """The trap: numbers are taken before commit. Two writes of one user on direct connections,
    the first held open: the second cannot commit before it, since both hold the user's row
    lock from before their number until commit; so a reader never sees the later one alone."""
    first, second = await create_task(client, user), await create_task(client, user)
    update = query("task_update")
    caller = Caller(user.id, user.session_id).params
    args = {**caller, "if_match": None, "set_title": True}
    blank = {"set_description": False, "description": None, "completed": None}
    more = {"set_due_date": False, "due_date": None, "priority": None, "tags": None}
    more["list_id"] = None
    more |= {"set_schedule": False, **NO_SCHEDULE.params}
    a = await asyncpg.connect(database_url, statement_cache_size=0)
    b = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        copy: dict[int, dict[str, Any]] = {}
        token = await sync(client, user, copy, None)
        tx = a.transaction()
        await tx.start()
        await a.fetchrow(*update(**args, **blank, **more, task_id=first["id"], title="A"))
        later = asyncio.create_task(
            b.fetchrow(*update(**args, **blank, **more, task_id=second["id"], title="B"))
        )
        await asyncio.sleep(0.3)
        assert not later.done()  # waits for the first write's lock
        token = await sync(client, user, copy, token)
        assert copy[first["id"]]["title"] != "A" and copy[second["id"]]["title"] != "B"
        await tx.commit()
        await later
        await sync(client, user, copy, token)
        assert copy[first["id"]]["title"] == "A" and copy[second["id"]]["title"] == "B"
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("run", range(4))
async def test_a_client_syncing_while_many_write_ends_with_the_servers_tasks(
    app: ASGIApp, user: User, run: int
) -> None:
    rng = random.Random(run)
    async with client_for(app) as client:
        tasks = [(await create_task(client, user, title=f"seed {n}"))["id"] for n in range(20)]
        copy: dict[int, dict[str, Any]] = {}
        token = await sync(client, user, copy, None)
        writing = True

        async def writer(n: int) -> None:
            for step in range(15):
                action = rng.choice(["create", "update", "toggle", "move", "delete", "clear"])
                target = rng.choice(tasks) if tasks else None
                base = f"{user.tasks}/{target}"
                if action == "create" or target is None:
                    r = await client.post(
                        user.tasks, json={"title": f"w{n}.{step}"}, headers=user.headers
                    )
                    if r.status_code == 201:
                        tasks.append(r.json()["id"])
                elif action == "update":
                    body = {"title": f"u{n}.{step}", "priority": rng.choice(["low", "high"])}
                    await client.put(base, json=body, headers=user.headers)
                elif action == "toggle":
                    await client.patch(f"{base}/complete", headers=user.headers)
                elif action == "move":
                    after = rng.choice([None, *tasks[:5]])
                    await client.post(f"{base}/move", json={"after": after}, headers=user.headers)
                elif action == "delete":
                    await client.delete(base, headers=user.headers)
                elif step % 5 == 0:
                    await client.post(f"{user.tasks}/clear-completed", headers=user.headers)

        async def reader() -> None:
            nonlocal token
            while writing:
                token = await sync(client, user, copy, token)
                await asyncio.sleep(0)

        reading = asyncio.create_task(reader())
        await asyncio.gather(*(writer(n) for n in range(8)))
        writing = False
        await reading
        await sync(client, user, copy, token)
        assert copy == await server_tasks(client, user)
