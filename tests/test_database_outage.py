"""The database goes away: the API answers 503 problems, keeps running, and recovers by
itself when the database is back. A real server behind a proxy that the test cuts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.conftest import (
    PREPARED_STATEMENTS,
    User,
    assert_problem,
    client_for,
    create_task,
    register,
    running,
)
from tests.tcp_proxy import TcpProxy
from todo_api.app import create_app
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(database_url)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def proxied(proxy: TcpProxy, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    through_proxy = settings.model_copy(
        update={"database_url": proxy.url, "db_request_timeout": 2.0}
    )
    async with running(create_app(through_proxy)) as app, client_for(app) as client:
        yield client


async def eventually_status(
    client: httpx.AsyncClient, url: str, status: int, within: float
) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        r = await client.get(url)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.1)


async def test_outage_gives_503_and_recovers(proxy: TcpProxy, proxied: httpx.AsyncClient) -> None:
    user = await register(proxied)
    assert (await proxied.get("/ready")).json() == {"status": "ready"}

    await proxy.stop()
    started = time.monotonic()
    body = assert_problem(await proxied.get("/ready"), 503)
    assert time.monotonic() - started < 5
    assert "database" in body["detail"].lower()
    for r in (
        await proxied.get(user.tasks, headers=user.headers),
        await proxied.post(user.tasks, json={"title": "x"}, headers=user.headers),
        await proxied.post(
            "/api/auth/login", json={"username": user.username, "password": user.password}
        ),
    ):
        assert_problem(r, 503)
    assert (await proxied.get("/health")).status_code == 200

    await proxy.start()
    r = await eventually_status(proxied, "/ready", 200, within=5)
    assert r.status_code == 200
    created = await proxied.post(user.tasks, json={"title": "after"}, headers=user.headers)
    assert created.status_code == 201


async def test_writes_during_an_outage_are_503_or_stored(
    proxy: TcpProxy, proxied: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Writes flow while the database goes away and comes back: each answers 201 or 503 within
    5 s, never a 500, and every 201 is in the database afterwards."""
    user = await register(proxied)
    acknowledged: list[int] = []
    statuses: list[int] = []
    slowest = 0.0
    stop_writing = asyncio.Event()

    async def writer() -> None:
        nonlocal slowest
        n = 0
        while not stop_writing.is_set():
            started = time.monotonic()
            r = await proxied.post(user.tasks, json={"title": f"w{n}"}, headers=user.headers)
            slowest = max(slowest, time.monotonic() - started)
            statuses.append(r.status_code)
            if r.status_code == 201:
                acknowledged.append(r.json()["id"])
            n += 1
            await asyncio.sleep(0.01)

    writers = [asyncio.create_task(writer()) for _ in range(4)]
    await asyncio.sleep(0.5)
    await proxy.stop()
    await asyncio.sleep(1.0)
    await proxy.start()
    await asyncio.sleep(1.5)
    stop_writing.set()
    await asyncio.gather(*writers)

    assert set(statuses) <= {201, 503}, statuses
    assert 503 in statuses and statuses[-1] == 201
    assert slowest < 5
    stored = await db.fetch("SELECT id FROM tasks WHERE user_id = $1", user.id)
    assert set(acknowledged) <= {r["id"] for r in stored}


BEHIND_A_POOLER = pytest.mark.skipif(
    not PREPARED_STATEMENTS,
    reason="behind PgBouncer the server's connections are PgBouncer's, shared with the test's "
    "own; ending them ends the test's connection, and PgBouncer replaces them itself",
)


@BEHIND_A_POOLER
async def test_connections_closed_by_the_server_are_replaced(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    """As when Neon suspends an idle compute: the server ends every connection of the pool
    while it is idle; the next requests, writes included, still succeed."""
    task = await create_task(client, user)
    item = f"{user.tasks}/{task['id']}"
    for _ in range(3):
        await backends_gone(db, await terminate_pool_backends(db))
        r = await client.post(user.tasks, json={"title": "after"}, headers=user.headers)
        assert r.status_code == 201
        assert (await client.patch(f"{item}/complete", headers=user.headers)).status_code == 200
        assert (await client.get(user.tasks, headers=user.headers)).status_code == 200
        assert (await client.get(item, headers=user.headers)).status_code == 200


@BEHIND_A_POOLER
async def test_a_read_racing_the_servers_close_is_retried(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    """Reads are safe to repeat: even sent while the server is still closing connections,
    they succeed on a fresh one."""
    task = await create_task(client, user)
    for _ in range(3):
        await terminate_pool_backends(db)
        assert (await client.get(user.tasks, headers=user.headers)).status_code == 200
        assert (
            await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
        ).status_code == 200


async def terminate_pool_backends(db: asyncpg.Connection) -> list[int]:
    """End the server side of every app connection to this database; their pids."""
    pids: list[int] = await db.fetchval(
        """WITH pool AS MATERIALIZED (
               SELECT pid FROM pg_stat_activity
               WHERE datname = current_database() AND application_name = 'todo-api')
           SELECT coalesce(array_agg(pid), '{}') FROM pool WHERE pg_terminate_backend(pid)"""
    )
    return pids


async def backends_gone(db: asyncpg.Connection, pids: list[int]) -> None:
    """pg_terminate_backend only signals: wait until those backends have really exited."""
    deadline = time.monotonic() + 10
    while await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)  # and the client has read the close


def test_idle_connections_are_recycled_well_before_five_minutes() -> None:
    from todo_api.db.pool import MAX_IDLE_SECONDS

    assert MAX_IDLE_SECONDS < 300
