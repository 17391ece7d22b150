"""`todo-api users list|deactivate|activate|delete`: the operator's commands, run as real
processes against the database a real server uses, and what the server answers after."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import PASSWORD, TEST_SECRET
from todo_api.testing import BIN, ROOT, Server, fresh_database

TODO_API = str(BIN / "todo-api")


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TODO_API, *args],
        env={**os.environ, **env},
        cwd=ROOT,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Account:
    id: str
    email: str
    username: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass
class Setup:
    env: dict[str, str]
    http: httpx.Client

    def users(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(["users", *args], self.env, stdin)

    def register(self, email: str | None = None) -> Account:
        email = email or f"u{uuid.uuid4().hex[:12]}@example.com"
        r = self.http.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        body = r.json()
        return Account(
            id=body["user"]["id"],
            email=email,
            username=body["user"]["username"],
            access=body["access_token"],
            refresh=body["refresh_token"],
        )

    def login(self, account: Account) -> httpx.Response:
        return self.http.post(
            "/api/auth/login", json={"email": account.email, "password": PASSWORD}
        )

    def listed(self) -> dict[str, list[str]]:
        """`users list`, as rows by id (after the header)."""
        r = self.users("list")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["id", "email", "username", "active", "created", "tasks"]
        return {row.split()[0]: row.split() for row in lines[1:]}


@pytest.fixture
def setup(server_url: str, serve: Callable[..., Server]) -> Iterator[Setup]:
    with fresh_database(server_url) as url:
        env = {"DATABASE_URL": url, "JWT_SECRET": TEST_SECRET}
        migrated = run(["migrate"], env)
        assert migrated.returncode == 0, migrated.stderr
        server = serve(env)
        with httpx.Client(base_url=server.base, timeout=30) as http:
            yield Setup(env, http)
        server.kill()  # before the database is dropped


def test_list_shows_every_account_with_its_task_count(setup: Setup) -> None:
    alice, bob = setup.register(), setup.register()
    created = setup.http.post(f"/api/{alice.id}/tasks", json={"title": "x"}, headers=alice.headers)
    assert created.status_code == 201, created.text
    rows = setup.listed()
    assert rows[alice.id][1:4] == [alice.email, alice.username, "yes"]
    assert rows[bob.id][1:4] == [bob.email, bob.username, "yes"]
    assert rows[alice.id][5] == "1" and rows[bob.id][5] == "0"
    assert rows[alice.id][4].endswith("Z") and "T" in rows[alice.id][4]


def test_deactivate_refuses_tokens_at_once_and_activate_needs_a_new_login(setup: Setup) -> None:
    alice = setup.register()
    r = setup.users("deactivate", alice.email.upper())
    assert r.returncode == 0, r.stderr
    assert alice.username in r.stdout and alice.id in r.stdout
    assert setup.http.get("/api/auth/me", headers=alice.headers).status_code == 403
    assert setup.http.get(f"/api/{alice.id}/tasks", headers=alice.headers).status_code == 403
    refresh = setup.http.post("/api/auth/refresh", json={"refresh_token": alice.refresh})
    assert refresh.status_code == 403
    assert setup.login(alice).status_code == 403
    assert setup.listed()[alice.id][3] == "no"

    again = setup.users("deactivate", alice.id)
    assert again.returncode == 0 and "already inactive" in again.stdout

    r = setup.users("activate", alice.username)
    assert r.returncode == 0, r.stderr
    assert setup.login(alice).status_code == 200
    assert setup.http.get("/api/auth/me", headers=alice.headers).status_code == 401
    refresh = setup.http.post("/api/auth/refresh", json={"refresh_token": alice.refresh})
    assert refresh.status_code == 401
    assert setup.listed()[alice.id][3] == "yes"


def test_delete_with_yes_removes_the_account_and_frees_the_email(setup: Setup) -> None:
    alice, bob = setup.register(), setup.register()
    r = setup.users("delete", alice.id, "--yes")
    assert r.returncode == 0, r.stderr
    assert "deleted" in r.stdout and alice.id in r.stdout
    assert setup.http.get("/api/auth/me", headers=alice.headers).status_code == 401
    assert setup.http.get("/api/auth/me", headers=bob.headers).status_code == 200
    assert alice.id not in setup.listed()
    setup.register(alice.email)


def test_delete_asks_first_and_only_yes_deletes(setup: Setup) -> None:
    alice = setup.register()
    for answer in ("n\n", "\n", "maybe\n", ""):
        r = setup.users("delete", alice.username, stdin=answer)
        assert r.returncode == 1, r.stderr
        assert f"Delete {alice.username} ({alice.email}) and all their tasks? [y/N]" in r.stdout
        assert "not deleted" in r.stdout + r.stderr
        assert setup.login(alice).status_code == 200
    r = setup.users("delete", alice.username, stdin="Y\n")
    assert r.returncode == 0, r.stderr
    assert "deleted" in r.stdout
    assert setup.login(alice).status_code == 401
    assert alice.id not in setup.listed()


@pytest.mark.parametrize("action", ["deactivate", "activate", "delete"])
def test_an_unknown_account_is_one_line_and_exit_status_1(setup: Setup, action: str) -> None:
    setup.register()
    r = setup.users(action, "nobody-here", stdin="y\n")
    assert r.returncode == 1
    assert r.stderr == "todo-api: no account named nobody-here\n"
    assert "Traceback" not in r.stderr


def test_list_without_a_database_is_one_line_and_exit_status_2() -> None:
    env = {
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x",
        "DB_CONNECT_TIMEOUT": "1",
        "JWT_SECRET": TEST_SECRET,
    }
    r = run(["users", "list"], env)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("todo-api: "), r.stderr
    assert "Traceback" not in r.stderr
