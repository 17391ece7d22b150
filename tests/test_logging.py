"""The access log: one line a request with method, path template, status, duration and
request id; as JSON with LOG_FORMAT=json; never a token or a password."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import User
from todo_api.logs import access_log, write_all

pytestmark = pytest.mark.anyio


@pytest.fixture
def access_lines() -> Iterator[list[bytes]]:
    written: list[bytes] = []
    saved = (access_log.sink, access_log.json, access_log.enabled)
    access_log.flush()
    access_log.sink, access_log.json, access_log.enabled = written.append, True, True
    yield written
    access_log.flush()
    access_log.sink, access_log.json, access_log.enabled = saved


@pytest.mark.in_process  # reads the in-process app's access log
async def test_one_json_line_per_request_without_secrets(
    client: httpx.AsyncClient, user: User, access_lines: list[bytes]
) -> None:
    await client.post(
        "/api/auth/login",
        json={"username": user.username, "password": user.password},
        headers={"X-Request-ID": "login-1"},
    )
    await client.get(
        f"{user.tasks}?q=secret-search", headers={**user.headers, "X-Request-ID": "list-1"}
    )
    access_log.flush()
    lines = b"".join(access_lines).decode().splitlines()
    assert len(lines) == 2
    login, listing = (json.loads(line) for line in lines)
    assert login["method"] == "POST" and login["status"] == 200 and login["request_id"] == "login-1"
    assert listing["route"] == "/api/{user_id}/tasks"
    assert listing["path"] == user.tasks
    assert listing["request_id"] == "list-1"
    assert isinstance(listing["duration_ms"], float)
    assert listing["level"] == "info" and listing["time"].endswith("Z")
    assert listing["logger"] == "todo_api.access"
    for line in lines:
        assert user.token not in line
        assert user.password not in line
        assert "secret-search" not in line  # query strings can carry personal data


@pytest.mark.in_process  # reads the in-process app's access log
async def test_text_lines_name_the_request(
    client: httpx.AsyncClient, access_lines: list[bytes]
) -> None:
    access_log.json = False
    await client.get("/health", headers={"X-Request-ID": "plain-1"})
    access_log.flush()
    (line,) = b"".join(access_lines).decode().splitlines()
    assert "todo_api.access: GET /health 200" in line and "request_id=plain-1" in line


@pytest.mark.in_process  # reads the in-process app's access log
async def test_lines_reach_the_sink_within_the_flush_interval(
    client: httpx.AsyncClient, access_lines: list[bytes]
) -> None:
    import asyncio

    await client.get("/health")
    await asyncio.sleep(0.3)
    assert len(b"".join(access_lines).splitlines()) == 1


def test_the_access_log_writes_every_byte_when_the_pipe_takes_part() -> None:
    """os.write may write part of a buffer; the rest must follow, in order."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    data = b"".join(b"line %06d\n" % n for n in range(30_000))  # more than a pipe holds
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_end, 4096):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    write_all(write_end, data)
    os.close(write_end)
    reader.join(timeout=30)
    os.close(read_end)
    assert bytes(received) == data
