"""Webhook deliveries made by real `todo-api serve` processes: at least once across a process
killed (SIGKILL) in the middle of a delivery, and each attempt made by one process when several
workers claim from the same outbox. Each test has a database of its own, so no other worker
(the suite's in-process app) claims its deliveries."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.webhook_receiver import Answer, receiving
from todo_api.db.migrations import apply_migrations
from todo_api.testing import TEST_SETTINGS, TODO_API, Server, fresh_database

pytestmark = pytest.mark.anyio


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        apply_migrations(url)
        yield url


def server_env(database_url: str, **more: str) -> dict[str, str]:
    return {
        **TEST_SETTINGS,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "DB_POOL_MAX": "5",  # per worker: the test server is shared
        **more,
    }


async def signed_up(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    body = {"email": f"hooks{time.monotonic_ns()}@example.com", "password": "correct horse"}
    r = await client.post("/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    return r.json()["user"]["id"], {"Authorization": f"Bearer {r.json()['access_token']}"}


async def all_settled(database_url: str, count: int, within: float = 60) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        deadline = time.monotonic() + within
        while True:
            rows = await conn.fetch("SELECT * FROM webhook_deliveries")
            if len(rows) >= count and all(r["status"] != "pending" for r in rows):
                return rows
            assert time.monotonic() < deadline, [dict(r) for r in rows]
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_process_killed_in_the_middle_of_a_delivery_loses_no_event(
    own_database: str, serve: Callable[..., Server], workers: str
) -> None:
    held = threading.Event()

    def answer(n: int, path: str) -> Answer:
        return Answer(hold=held) if n == 0 else Answer(200)

    env = server_env(own_database, WEBHOOK_TIMEOUT_SECONDS="3")
    command = [*TODO_API, "--workers", workers]
    with receiving(answer=answer) as receiver:
        first = serve(env, command)
        async with httpx.AsyncClient(base_url=first.base, timeout=30) as client:
            user_id, headers = await signed_up(client)
            body = {"url": receiver.url(), "events": ["task.created"]}
            webhook = await client.post(f"/api/{user_id}/webhooks", json=body, headers=headers)
            receiver.secrets = [webhook.json()["secret"]]
            created = []
            for i in range(6):
                r = await client.post(
                    f"/api/{user_id}/tasks", json={"title": f"t{i}"}, headers=headers
                )
                created.append(r.json()["id"])
        (in_flight,) = (await receiver.wait_for(1))[:1]
        first.kill()  # SIGKILL, every worker, while the receiver holds the first delivery
        held.set()
        second = serve(env, command)
        rows = await all_settled(own_database, 6)
        second.kill()
    assert {r["status"] for r in rows} == {"delivered"}
    got = receiver.received
    assert all(r.verified for r in got)
    assert {r.json["data"]["task"]["id"] for r in got} == set(created)  # none lost
    ids = Counter(r.id for r in got)
    assert ids[in_flight.id] >= 2  # the interrupted one was sent again, with the same id
    assert set(ids) == {r["id"] for r in rows}


async def test_with_two_workers_each_attempt_is_made_by_one_process(
    own_database: str, serve: Callable[..., Server]
) -> None:
    with receiving(answer=lambda n, path: Answer(200, delay=0.05)) as receiver:
        server = serve(server_env(own_database), [*TODO_API, "--workers", "2"])
        limits = httpx.Limits(max_keepalive_connections=0)  # any worker, each time
        async with httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) as client:
            user_id, headers = await signed_up(client)
            body = {"url": receiver.url(), "events": ["task.created", "task.completed"]}
            await client.post(f"/api/{user_id}/webhooks", json=body, headers=headers)
            for burst in range(4):
                responses = await asyncio.gather(
                    *(
                        client.post(
                            f"/api/{user_id}/tasks", json={"title": f"{burst}"}, headers=headers
                        )
                        for _ in range(15)
                    )
                )
                assert {r.status_code for r in responses} == {201}
                await asyncio.sleep(0.7)
        rows = await all_settled(own_database, 60)
        await asyncio.sleep(1.5)  # any duplicate attempt would arrive by now
        server.kill()
    assert len({r.id for r in receiver.received}) == 60
    assert len(receiver.received) == 60  # no attempt twice
    assert [r["attempts"] for r in rows] == [1] * 60


async def test_a_stopped_process_gives_its_unfinished_deliveries_back_at_once(
    own_database: str, serve: Callable[..., Server]
) -> None:
    held = threading.Event()

    def answer(n: int, path: str) -> Answer:
        return Answer(hold=held) if n == 0 else Answer(200)

    # A claim would outlive the attempt's limit (60 s) by far; a clean stop does not wait for it.
    env = server_env(own_database, WEBHOOK_TIMEOUT_SECONDS="60")
    with receiving(answer=answer) as receiver:
        first = serve(env)
        async with httpx.AsyncClient(base_url=first.base, timeout=30) as client:
            user_id, headers = await signed_up(client)
            body = {"url": receiver.url(), "events": ["task.created"]}
            await client.post(f"/api/{user_id}/webhooks", json=body, headers=headers)
            await client.post(f"/api/{user_id}/tasks", json={"title": "t"}, headers=headers)
        await receiver.wait_for(1)
        stopped = time.monotonic()
        assert first.terminate(timeout=20) == 0, first.output
        assert time.monotonic() - stopped < 10
        held.set()
        second = serve(env)
        (row,) = await all_settled(own_database, 1, within=20)
        second.kill()
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert [r.id for r in receiver.received] == [row["id"], row["id"]]
    assert "Traceback" not in first.output
