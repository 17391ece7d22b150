"""An idempotent replay is an ordinary request first (docs/api.md, "Hardening"): the caller
rule is applied before a kept response is given back, so after logout the
same token gets 401 and after deactivation (`todo-api users deactivate`, the operator's
command) 403, never the kept 201 or 200. Over HTTP against `todo-api serve`."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import PASSWORD, TEST_SECRET
from todo_api.testing import BIN, ROOT, TODO_API, Server


def signed_up(http: httpx.Client) -> tuple[str, dict[str, str]]:
    name = f"r{uuid.uuid4().hex[:12]}"
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    made = http.post("/api/auth/register", json=body)
    assert made.status_code == 201, made.text
    return made.json()["user"]["id"], {"Authorization": f"Bearer {made.json()['access_token']}"}


def is_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "idempotent-replayed" not in response.headers
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def server(
    request: pytest.FixtureRequest, database_url: str, serve: Callable[..., Server]
) -> Server:
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET}
    return serve(env, [*TODO_API, "--workers", str(request.param)])


def deactivate(database_url: str, user_id: str) -> None:
    """The operator's command, as a process of its own against the server's database."""
    done = subprocess.run(
        [str(BIN / "todo-api"), "users", "deactivate", user_id],
        env={**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_after_logout_a_replay_is_401_not_the_kept_201(server: Server) -> None:
    with httpx.Client(base_url=server.base) as http:
        user_id, auth = signed_up(http)
        keyed = {**auth, "Idempotency-Key": "create-1"}
        first = http.post(f"/api/{user_id}/tasks", json={"title": "kept"}, headers=keyed)
        assert first.status_code == 201
        again = http.post(f"/api/{user_id}/tasks", json={"title": "kept"}, headers=keyed)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert http.post("/api/auth/logout", headers=auth).status_code == 204
        is_problem(http.post(f"/api/{user_id}/tasks", json={"title": "kept"}, headers=keyed), 401)


def test_after_deactivation_a_replay_is_403_not_the_kept_200(
    server: Server, database_url: str
) -> None:
    with httpx.Client(base_url=server.base) as http:
        user_id, auth = signed_up(http)
        task = http.post(f"/api/{user_id}/tasks", json={"title": "t"}, headers=auth).json()
        keyed = {**auth, "Idempotency-Key": "toggle-1"}
        path = f"/api/{user_id}/tasks/{task['id']}/complete"
        first = http.patch(path, headers=keyed)
        assert first.status_code == 200
        assert http.patch(path, headers=keyed).headers["idempotent-replayed"] == "true"
        keyed_create = {**auth, "Idempotency-Key": "create-1"}
        made = http.post(f"/api/{user_id}/tasks", json={"title": "t"}, headers=keyed_create)
        assert made.status_code == 201
        deactivate(database_url, user_id)
        is_problem(http.patch(path, headers=keyed), 403)
        is_problem(
            http.post(f"/api/{user_id}/tasks", json={"title": "t"}, headers=keyed_create), 403
        )
