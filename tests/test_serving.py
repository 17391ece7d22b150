"""The server process under the faults of real deployments: a database that is not up yet,
SIGTERM in the middle of load, several workers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_SECRET, User
from tests.tcp_proxy import TcpProxy
from todo_api.testing import TODO_API, Server, free_port


def unreachable_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"


@pytest.mark.parametrize("migrate", ["true", "false"])
def test_a_database_that_never_comes_up_ends_start_up_with_a_reason(migrate: str) -> None:
    env = {
        "DATABASE_URL": unreachable_url(),
        "JWT_SECRET": TEST_SECRET,
        "DB_CONNECT_TIMEOUT": "2",
        "MIGRATE_ON_START": migrate,
    }
    server = Server(TODO_API, env)
    try:
        started = time.monotonic()
        code = server.wait_for_exit(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        server.kill()
    assert code != 0
    assert 2 <= elapsed < 20
    assert "did not answer within 2 s" in server.output
    assert "Traceback" not in server.output


@pytest.mark.anyio
async def test_a_database_that_comes_up_late_is_waited_for(database_url: str) -> None:
    proxy = TcpProxy(database_url)
    proxy.port = free_port()
    env = {"DATABASE_URL": proxy.url, "JWT_SECRET": TEST_SECRET, "DB_CONNECT_TIMEOUT": "20"}
    server = Server(TODO_API, env)
    try:
        await asyncio.sleep(1.5)
        assert server.proc.poll() is None, server.output
        await proxy.start()
        async with httpx.AsyncClient(base_url=server.base) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    r = await client.get("/ready")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, server.output
                    await asyncio.sleep(0.2)
            assert r.status_code == 200
        assert "retrying" in server.output
    finally:
        server.kill()
        await proxy.stop()


async def register_over_http(client: httpx.AsyncClient) -> User:
    name = f"s{time.monotonic_ns()}"
    body = {"email": f"{name}@example.com", "username": name, "password": "password1"}
    r = await client.post("/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    data = r.json()
    return User(data["user"]["id"], name, name, "password1", data["access_token"])


@pytest.mark.anyio
async def test_sigterm_under_load_finishes_in_flight_requests_and_exits_0(
    database_url: str, db: asyncpg.Connection, serve: Callable[..., Server]
) -> None:
    server = serve(
        {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "MIGRATE_ON_START": "false"}
    )
    acknowledged: list[int] = []
    outcomes: dict[str, int] = {}
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=15) as client:
        user = await register_over_http(client)

        async def writer(n: int) -> None:
            for i in range(60):
                try:
                    r = await client.post(
                        user.tasks, json={"title": f"{n}-{i}"}, headers=user.headers
                    )
                except httpx.TransportError as exc:
                    outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
                    return  # the server is going away: new connections are refused
                outcomes[str(r.status_code)] = outcomes.get(str(r.status_code), 0) + 1
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])
                    if len(acknowledged) >= 100:
                        under_load.set()

        under_load = asyncio.Event()
        writers = [asyncio.create_task(writer(n)) for n in range(16)]
        await under_load.wait()
        started = time.monotonic()
        server.proc.terminate()
        await asyncio.gather(*writers)
    code = await asyncio.to_thread(server.wait_for_exit, 15)
    assert code == 0, server.output
    assert time.monotonic() - started < 15
    assert set(outcomes) <= {"201", "ConnectError", "RemoteProtocolError", "ReadError"}, outcomes
    # After SIGTERM new connections are refused (or, queued but never accepted, reset).
    assert sum(n for k, n in outcomes.items() if k != "201") > 0, outcomes
    stored = await db.fetch("SELECT id FROM tasks WHERE user_id = $1", user.id)
    assert set(acknowledged) <= {r["id"] for r in stored}


@pytest.mark.anyio
async def test_two_workers_share_tokens_and_keep_data_exact(
    database_url: str, db: asyncpg.Connection, serve: Callable[..., Server]
) -> None:
    from tests.test_concurrency import (
        test_100_concurrent_creates_all_land,
        test_concurrent_toggles_of_one_task_are_exact,
    )
    from tests.test_ownership import (
        test_other_users_path_is_403_on_every_route,
        test_other_users_task_ids_are_404_under_own_path,
    )

    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "LOG_FORMAT": "json"}
    server = serve(env, [*TODO_API, "--workers", "2"])
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection, any worker, each time
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=30) as client:
        for scenario in (
            test_other_users_path_is_403_on_every_route,
            test_other_users_task_ids_are_404_under_own_path,
        ):
            await scenario(
                client, await register_over_http(client), await register_over_http(client)
            )
        await test_100_concurrent_creates_all_land(client, await register_over_http(client), db)
        await test_concurrent_toggles_of_one_task_are_exact(
            client, await register_over_http(client), 100
        )
    assert server.terminate() == 0, server.output
    access = [
        json.loads(line) for line in server.output.splitlines() if '"todo_api.access"' in line
    ]
    workers = {entry["pid"] for entry in access}
    assert len(workers) == 2, "both workers should have served requests (tokens crossed them)"
