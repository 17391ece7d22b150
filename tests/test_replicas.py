"""Several replicas of the service on one database behave as one service: whatever one replica
did (a login, a logout, a failed login, an idempotent create, a write) holds on every other at
once, since all state is in PostgreSQL. Each test talks to the replicas directly, by their own
addresses (TEST_REPLICA_URLS, set by `python -m bench.replicas`), and to the balancer in front
of them through the `client` fixture."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from tests.conftest import (
    PASSWORD,
    RemoteService,
    assert_problem,
    client_for,
    create_task,
    register,
)
from tests.test_idempotency import count, keyed
from tests.test_sync import server_tasks, sync
from todo_api.settings import Settings

REPLICA_URLS = [url for url in os.environ.get("TEST_REPLICA_URLS", "").split(",") if url]
# Replicas killed here come back: `python -m bench.replicas` restarts one killed by SIGKILL.
needs_replicas = pytest.mark.skipif(
    len(REPLICA_URLS) < 2,
    reason="needs replicas: TEST_REPLICA_URLS (`python -m bench.replicas` sets it)",
)


def replica_pid(owning: Callable[[Any], bool]) -> int:
    """The process of `python -m bench.replicas`'s replica with a TCP connection (or listening
    socket) for which `owning(connection)` holds."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.pid and owning(conn):
            return conn.pid
    raise AssertionError("no process has such a connection")


async def kill_and_await_restart(pid: int) -> None:
    """SIGKILL the replica whose process (or one of whose workers) is `pid`, as the OOM killer
    would, and wait until it is back up."""
    process = psutil.Process(pid)
    ports = {c.laddr.port for c in process.net_connections(kind="tcp") if c.status == "LISTEN"}
    url = next(u for u in REPLICA_URLS if httpx.URL(u).port in ports)
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    async with httpx.AsyncClient(base_url=url, timeout=2) as replica:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await replica.get("/health")).status_code == 200 and not process.is_running():
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not come back after a SIGKILL")


def listening_on(url: str) -> Callable[[Any], bool]:
    port = httpx.URL(url).port
    return lambda conn: conn.status == "LISTEN" and conn.laddr.port == port


pytestmark = [pytest.mark.anyio, needs_replicas]
RUNS = 3


@pytest.fixture
async def replicas() -> AsyncIterator[list[httpx.AsyncClient]]:
    """A client of each replica, by its own address."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(client_for(RemoteService(url))) for url in REPLICA_URLS
        ]


async def test_a_token_minted_by_one_replica_works_on_every_other(
    replicas: list[httpx.AsyncClient],
) -> None:
    first, *others = replicas
    user = await register(first)
    for replica in others:
        r = await replica.get("/api/auth/me", headers=user.headers)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == user.id
    task = await create_task(others[0], user)
    r = await others[-1].get(f"{user.tasks}/{task['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json() == task


async def test_logout_on_one_replica_refuses_the_token_on_every_other_at_once(
    replicas: list[httpx.AsyncClient],
) -> None:
    first, *others = replicas
    user = await register(first)
    for replica in others:  # each has seen (and remembered) the token as valid
        assert (await replica.get(user.tasks, headers=user.headers)).status_code == 200
    assert (await first.post("/api/auth/logout", headers=user.headers)).status_code == 204
    for replica in replicas:
        assert_problem(await replica.get(user.tasks, headers=user.headers), 401)
        body = {"refresh_token": user.refresh_token}
        assert_problem(await replica.post("/api/auth/refresh", json=body), 401)


async def test_a_refresh_token_used_again_on_another_replica_ends_the_session_everywhere(
    replicas: list[httpx.AsyncClient],
) -> None:
    first, second, *_ = replicas
    user = await register(first)
    body = {"refresh_token": user.refresh_token}
    renewed = await second.post("/api/auth/refresh", json=body)
    assert renewed.status_code == 200, renewed.text
    new_token = renewed.json()["access_token"]
    for replica in replicas:
        r = await replica.get(user.tasks, headers={"Authorization": f"Bearer {new_token}"})
        assert r.status_code == 200
    assert_problem(await replicas[-1].post("/api/auth/refresh", json=body), 401)  # copied
    for replica in replicas:
        r = await replica.get(user.tasks, headers={"Authorization": f"Bearer {new_token}"})
        assert_problem(r, 401)


async def test_login_failures_counted_on_every_replica_add_up_to_one_limit(
    replicas: list[httpx.AsyncClient],
) -> None:
    """Failures spread over the replicas count together: once they reach the limit (each
    replica saw only a share of them), even the right password is 429 on every replica."""
    limit = Settings.model_fields["login_max_failures"].default  # the replicas run the default
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    forwarded = {"X-Forwarded-For": address}  # the replicas trust 127.0.0.1's forwarded address
    user = await register(replicas[0])
    for n in range(limit):
        body = {"email": user.email, "password": "wrong password"}
        r = await replicas[n % len(replicas)].post("/api/auth/login", json=body, headers=forwarded)
        assert_problem(r, 401)
    for replica in replicas:
        body = {"email": user.email, "password": PASSWORD}
        r = await replica.post("/api/auth/login", json=body, headers=forwarded)
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1
    # The account itself is fine: from another address, the right password works.
    r = await replicas[1].post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200, r.text


async def test_an_idempotency_key_first_used_on_one_replica_replays_on_every_other(
    replicas: list[httpx.AsyncClient], db: asyncpg.Connection
) -> None:
    first, *others = replicas
    user = await register(first)
    headers = keyed(user)
    original = await first.post(user.tasks, json={"title": "once"}, headers=headers)
    assert original.status_code == 201 and "idempotent-replayed" not in original.headers
    for replica in others:
        again = await replica.post(user.tasks, json={"title": "once"}, headers=headers)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == original.json()
        for name in ("location", "etag"):
            assert again.headers[name] == original.headers[name]
        r = await replica.post(user.tasks, json={"title": "other"}, headers=headers)
        assert_problem(r, 422)
    assert await count(db, user) == 1


@contextlib.asynccontextmanager
async def tasks_table_held(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction holding a lock that keeps every insert into tasks waiting until the block
    ends; the connection, to watch who waits."""
    holder = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE tasks IN SHARE MODE")
            yield holder
    finally:
        await holder.close()


async def waiting_on_locks(conn: asyncpg.Connection) -> int:
    found: int = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'"
    )
    return found


@pytest.mark.parametrize("run", range(RUNS))
async def test_a_duplicate_on_another_replica_while_the_first_runs_is_409_then_replays(
    replicas: list[httpx.AsyncClient], db: asyncpg.Connection, database_url: str, run: int
) -> None:
    first, second, *_ = replicas
    user = await register(first)
    headers = keyed(user)
    async with tasks_table_held(database_url) as holder:
        running = asyncio.create_task(first.post(user.tasks, json={"title": "x"}, headers=headers))
        while await waiting_on_locks(holder) == 0:  # the first has its key and waits to insert
            assert not running.done(), running.result().text
            await asyncio.sleep(0.01)
        assert_problem(await second.post(user.tasks, json={"title": "x"}, headers=headers), 409)
    original = await running
    assert original.status_code == 201, original.text
    again = await second.post(user.tasks, json={"title": "x"}, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == original.json()
    assert await count(db, user) == 1


@pytest.mark.parametrize("run", range(RUNS))
async def test_concurrent_duplicates_spread_over_the_replicas_make_one_task(
    replicas: list[httpx.AsyncClient], db: asyncpg.Connection, run: int
) -> None:
    user = await register(replicas[0])
    headers = keyed(user)

    async def create(n: int) -> httpx.Response:
        replica = replicas[n % len(replicas)]
        return await replica.post(user.tasks, json={"title": "one"}, headers=headers)

    answers = await asyncio.gather(*(create(n) for n in range(18)))
    assert {r.status_code for r in answers} <= {201, 409}
    created = [r.json() for r in answers if r.status_code == 201]
    assert created and all(task == created[0] for task in created)
    assert await count(db, user) == 1


@pytest.mark.parametrize("run", range(RUNS))
async def test_of_if_match_writers_on_every_replica_exactly_one_wins(
    replicas: list[httpx.AsyncClient], run: int
) -> None:
    user = await register(replicas[0])
    task = await create_task(replicas[0], user)
    headers = {**user.headers, "If-Match": f'"{task["version"]}"'}

    async def write(n: int) -> int:
        replica = replicas[n % len(replicas)]
        target = f"{user.tasks}/{task['id']}"
        r = await replica.put(target, json={"title": f"writer {n}"}, headers=headers)
        return r.status_code

    statuses = await asyncio.gather(*(write(n) for n in range(12)))
    assert sorted(statuses) == [200] + [412] * 11


@pytest.mark.parametrize("run", range(RUNS))
async def test_a_client_syncing_through_the_balancer_ends_with_what_every_replica_wrote(
    client: httpx.AsyncClient, replicas: list[httpx.AsyncClient], run: int
) -> None:
    rng = random.Random(run)
    user = await register(client)
    tasks = [(await create_task(client, user, title=f"seed {n}"))["id"] for n in range(12)]
    copy: dict[int, dict[str, Any]] = {}
    token = await sync(client, user, copy, None)
    writing = True

    async def writer(replica: httpx.AsyncClient, n: int) -> None:
        headers = user.headers
        for step in range(12):
            action = rng.choice(["create", "update", "toggle", "move", "delete"])
            target = f"{user.tasks}/{rng.choice(tasks)}"
            if action == "create":
                r = await replica.post(user.tasks, json={"title": f"w{n}.{step}"}, headers=headers)
                tasks.append(r.json()["id"])
            elif action == "update":
                await replica.put(target, json={"title": f"u{n}.{step}"}, headers=headers)
            elif action == "toggle":
                await replica.patch(f"{target}/complete", headers=headers)
            elif action == "move":
                after = {"after": rng.choice([None, *tasks[:4]])}
                await replica.post(f"{target}/move", json=after, headers=headers)
            else:
                await replica.delete(target, headers=headers)

    async def reader() -> None:
        nonlocal token
        while writing:
            token = await sync(client, user, copy, token)
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(replica, n) for n, replica in enumerate(replicas * 2)))
    writing = False
    await reading
    await sync(client, user, copy, token)
    assert copy == await server_tasks(client, user)
