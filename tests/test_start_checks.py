"""What `todo-api serve` and `todo-api migrate` do when the database is not what this version
expects: a migration that fails leaves nothing of itself, and a schema that drifted is caught
before the first request. Each ends start-up with one clear line and a non-zero status."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from yoyo import get_backend, read_migrations

from tests.conftest import PREPARED_STATEMENTS, TEST_SECRET
from todo_api.db.migrations import apply_migrations
from todo_api.db.pool import yoyo_url
from todo_api.testing import BIN, ROOT, fresh_database


@pytest.fixture
def scratch_database(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        yield url


def todo_api(command: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "todo-api"), command],
        env={"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "PATH": str(BIN), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        ).fetchall()
    return {r[0] for r in rows}


def one_clear_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("todo-api: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_failing_migration_stops_start_up_and_leaves_nothing_half_applied(
    scratch_database: str,
) -> None:
    backend = get_backend(yoyo_url(scratch_database))
    if not PREPARED_STATEMENTS:
        backend.connection.prepare_threshold = None
    first_two = read_migrations(str(ROOT / "migrations")).filter(
        lambda m: m.id in {"0001_users_and_tasks", "0002_title_whitespace"}
    )
    with backend.lock():
        backend.apply_migrations(backend.to_apply(first_two))
    backend.connection.close()
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute("CREATE TYPE task_priority AS ENUM ('in the way')")  # 0003 makes this type

    result = todo_api("migrate", scratch_database)
    assert result.returncode != 0
    assert "migration failed" in one_clear_line(result.stderr)
    assert "due_date" not in columns(scratch_database, "tasks")  # 0003's first steps undone
    with psycopg.connect(scratch_database) as conn:
        applied = {r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration")}
    assert "0003_task_planning" not in applied


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_schema_that_drifted_is_caught_before_the_first_request(
    scratch_database: str, command: str
) -> None:
    apply_migrations(scratch_database)
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE tasks DROP COLUMN description")
    result = todo_api(command, scratch_database, MIGRATE_ON_START="false", PORT="0")
    assert result.returncode != 0
    line = one_clear_line(result.stderr)
    assert "schema does not fit" in line and "description" in line
