"""The database goes away: the API answers 503 problems, keeps running, and recovers by
itself when the database is back. A real server behind a proxy that the test cuts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from tests.conftest import assert_problem, client_for, register, running
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
    through_proxy = replace(settings, database_url=proxy.url, db_connect_timeout=2.0)
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
