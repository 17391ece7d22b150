"""The access log: one line a request with method, path template, status, duration and
request id; as JSON with LOG_FORMAT=json; never a token or a password."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from tests.conftest import User
from todo_api.logs import JSONFormatter

pytestmark = pytest.mark.anyio


async def test_one_json_line_per_request_without_secrets(
    client: httpx.AsyncClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="todo_api.access")
    caplog.clear()
    await client.post(
        "/api/auth/login",
        json={"username": user.username, "password": user.password},
        headers={"X-Request-ID": "login-1"},
    )
    await client.get(
        f"{user.tasks}?q=secret-search", headers={**user.headers, "X-Request-ID": "list-1"}
    )
    records = [r for r in caplog.records if r.name == "todo_api.access"]
    assert len(records) == 2
    lines = [JSONFormatter().format(r) for r in records]
    entries = [json.loads(line) for line in lines]
    login, listing = entries
    assert login["method"] == "POST" and login["status"] == 200 and login["request_id"] == "login-1"
    assert listing["route"] == "/api/{user_id}/tasks"
    assert listing["path"] == user.tasks
    assert listing["request_id"] == "list-1"
    assert isinstance(listing["duration_ms"], float)
    assert listing["level"] == "info" and listing["time"].endswith("Z")
    for line in lines:
        assert user.token not in line
        assert user.password not in line
        assert "secret-search" not in line  # query strings can carry personal data
        assert "\n" not in line
