"""Idle connections cannot shut others out (docs/api.md, "Hardening"):
while 127.0.0.1 holds 1,000 idle sockets to `todo-api serve` (1 and 2 workers), requests from
127.0.0.2 are answered, /health and the API alike; the connections past
MAX_CONNECTIONS_PER_ADDRESS (per worker) from 127.0.0.1 are closed, and only that address is
affected. Real sockets on loopback, whose whole 127/8 is this machine's."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import PASSWORD, TEST_SECRET
from todo_api.testing import TODO_API, Server

IDLE = 1_000
PER_ADDRESS = 100  # MAX_CONNECTIONS_PER_ADDRESS's default
# Below IDLE, so that without a limit per address the idle sockets alone would take every
# connection uvicorn allows, in one worker or in each of two (as 1,000 did at the default 1,000).
LIMIT_CONCURRENCY = 400


@pytest.fixture(autouse=True)
def enough_file_descriptors() -> None:
    """The test holds 1,000 sockets and the server (its child) as many for a moment."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * IDLE if hard == resource.RLIM_INFINITY else min(hard, 4 * IDLE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@contextlib.contextmanager
def idle_sockets(port: int, count: int, source: str) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            opened.append(s)
        yield opened
    finally:
        for s in opened:
            s.close()


def still_open(sockets: list[socket.socket]) -> int:
    """How many the server has not closed (a closed one reads as end of file at once)."""
    count = 0
    for s in sockets:
        try:
            data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            count += 1  # nothing to read: open
        except ConnectionResetError:
            continue
        else:
            count += data != b""
    return count


def client_from(server: Server, source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=server.base, transport=transport, timeout=30)


@pytest.mark.parametrize("workers", [1, 2])
def test_one_address_with_1000_idle_sockets_never_refuses_another(
    database_url: str, serve: Callable[..., Server], workers: int
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "LIMIT_CONCURRENCY": str(LIMIT_CONCURRENCY),
        "HEADER_TIMEOUT_SECONDS": "120",  # the idle ones stay until the test is done
        "LOG_LEVEL": "warning",
    }
    server = serve(env, [*TODO_API, "--workers", str(workers)])
    with idle_sockets(server.port, IDLE, "127.0.0.1") as idle:
        # The server turns away what it does not keep; wait until it has seen them all.
        deadline = time.monotonic() + 60
        while (kept := still_open(idle)) > PER_ADDRESS * workers:
            assert time.monotonic() < deadline, f"{kept} of {IDLE} idle sockets still open"
            time.sleep(0.2)
        assert kept >= PER_ADDRESS  # the address keeps its share

        with client_from(server, "127.0.0.2") as other:
            for _ in range(20):
                assert other.get("/health").status_code == 200
            name = f"i{uuid.uuid4().hex[:12]}"
            body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
            made = other.post("/api/auth/register", json=body)
            assert made.status_code == 201, made.text
            auth = {"Authorization": f"Bearer {made.json()['access_token']}"}
            tasks = f"/api/{made.json()['user']['id']}/tasks"
            assert other.post(tasks, json={"title": "t"}, headers=auth).status_code == 201
            assert other.get(tasks, headers=auth).status_code == 200
        # Each request on a fresh connection of its own, too.
        for _ in range(10):
            with client_from(server, "127.0.0.2") as fresh:
                assert fresh.get("/health").status_code == 200

        # 127.0.0.1 itself holds no more than its share: more sockets from it are closed.
        with idle_sockets(server.port, PER_ADDRESS, "127.0.0.1") as more:
            deadline = time.monotonic() + 60
            while (kept := still_open(idle + more)) > PER_ADDRESS * workers:
                assert time.monotonic() < deadline, f"{kept} sockets of 127.0.0.1 still open"
                time.sleep(0.2)
        if workers == 1:  # at its limit: a request from it is closed unanswered
            with client_from(server, "127.0.0.1") as same, pytest.raises(httpx.TransportError):
                same.get("/health")
    assert "Traceback" not in server.output
