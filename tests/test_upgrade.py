"""A database made by round one, with data in it, upgraded the ways operators do: `yoyo apply`
and `todo-api migrate`. Existing tasks keep everything and get this round's defaults; the fixed
title rule holds; each migration rolls back."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from yoyo import get_backend, read_migrations

from tests.conftest import PREPARED_STATEMENTS, TEST_SECRET
from todo_api.db.pool import yoyo_url
from todo_api.testing import BIN, ROOT, fresh_database

ROUND_ONE = "0001_users_and_tasks"


def migrate_through(url: str, last: str) -> None:
    """The database's schema as migration `last` (and those before it) left it."""
    backend = get_backend(yoyo_url(url))
    if not PREPARED_STATEMENTS:
        backend.connection.prepare_threshold = None
    migrations = read_migrations(str(ROOT / "migrations"))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id <= last)))
    backend.connection.close()


@pytest.fixture
def round_one_database(server_url: str) -> Iterator[str]:
    """A database at round one's schema, with two users and their tasks."""
    with fresh_database(server_url) as url:
        migrate_through(url, ROUND_ONE)
        with psycopg.connect(url, autocommit=True) as conn:
            for name in ("ann", "bob"):
                conn.execute(
                    "INSERT INTO users (email, username, hashed_password) VALUES (%s, %s, 'x')",
                    (f"{name}@example.com", name),
                )
                conn.execute(
                    """INSERT INTO tasks (user_id, title, created_at, completed, completed_at)
                       SELECT u.id, 'old task ' || i, now() - i * interval '1 minute',
                              i %% 2 = 0, CASE WHEN i %% 2 = 0 THEN now() END
                       FROM users AS u, generate_series(1, 70) AS i WHERE u.username = %s""",
                    (name,),
                )
        yield url


def run(command: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "PATH": str(BIN)}
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("tool", ["todo-api migrate", "yoyo apply"])
def test_a_round_one_database_upgrades_with_its_data(round_one_database: str, tool: str) -> None:
    if tool == "yoyo apply":
        if not PREPARED_STATEMENTS:
            pytest.skip("yoyo's own command prepares statements, which a transaction pooler breaks")
        command = [str(BIN / "yoyo"), "apply", "--batch", "--database"]
        result = run([*command, yoyo_url(round_one_database), "migrations"], round_one_database)
    else:
        result = run([str(BIN / "todo-api"), "migrate"], round_one_database)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(round_one_database, autocommit=True) as conn:
        rows = conn.execute(
            """SELECT u.username, t.title, t.position, t.version, t.priority::text, t.tags,
                      t.due_date, t.completed
               FROM tasks AS t JOIN users AS u ON u.id = t.user_id
               ORDER BY u.username, t.position"""
        ).fetchall()
        assert len(rows) == 140
        for name in ("ann", "bob"):
            mine = [r for r in rows if r[0] == name]
            # Newest first in the manual order: old task 1 is the newest.
            assert [r[1] for r in mine] == [f"old task {i}" for i in range(1, 71)]
            assert len({r[2] for r in mine}) == 70
        assert {(r[3], r[4], tuple(r[5]), r[6]) for r in rows} == {(1, "none", (), None)}
        assert sum(r[7] for r in rows) == 70
        # 0006 counted what was there: 70 tasks each, 35 of them completed, no tags; 0007 the
        # same in each user's Inbox.
        counts = conn.execute(
            """SELECT u.username, l.name, c.tag, c.tasks, c.completed
               FROM task_counts AS c JOIN users AS u ON u.id = c.user_id
               LEFT JOIN lists AS l ON l.id = c.list_id ORDER BY 1, 2"""
        ).fetchall()
        assert counts == [
            ("ann", "Inbox", "", 70, 35),
            ("ann", None, "", 70, 35),
            ("bob", "Inbox", "", 70, 35),
            ("bob", None, "", 70, 35),
        ]
        # The title rule fixed by 0002: a lowercase v at either end is a letter like any other.
        conn.execute(
            "INSERT INTO tasks (user_id, title) SELECT id, 'vacuum the house v' FROM users LIMIT 1"
        )


@pytest.mark.skipif(not PREPARED_STATEMENTS, reason="yoyo's own command prepares statements")
def test_every_migration_rolls_back_and_applies_again(round_one_database: str) -> None:
    url = yoyo_url(round_one_database)
    yoyo = str(BIN / "yoyo")
    for command in (["apply"], ["rollback", "--all"], ["apply"]):
        result = run(
            [yoyo, *command, "--batch", "--database", url, "migrations"], round_one_database
        )
        assert result.returncode == 0, result.stderr
    with psycopg.connect(round_one_database) as conn:
        applied = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()
    expected = [p for p in (ROOT / "migrations").glob("*.sql") if ".rollback" not in p.name]
    assert applied is not None and applied[0] == len(expected)


ROUND_TWO = "0006_task_counts"


@pytest.fixture
def round_two_database(server_url: str) -> Iterator[str]:
    """A database at round two's schema (through 0006), with users and planned tasks."""
    with fresh_database(server_url) as url:
        migrate_through(url, ROUND_TWO)
        with psycopg.connect(url, autocommit=True) as conn:
            for name in ("cat", "dan"):
                conn.execute(
                    "INSERT INTO users (email, username, hashed_password) VALUES (%s, %s, 'x')",
                    (f"{name}@example.com", name),
                )
                conn.execute(
                    """INSERT INTO tasks (user_id, title, completed, completed_at, due_date,
                                          priority, tags)
                       SELECT u.id, 'task ' || i, i %% 3 = 0, CASE WHEN i %% 3 = 0 THEN now() END,
                              CASE WHEN i %% 2 = 0 THEN date '2026-01-01' + i END,
                              (ARRAY['none', 'low', 'medium', 'high'])[1 + i %% 4]::task_priority,
                              ARRAY['t' || (i %% 5)]
                       FROM users AS u, generate_series(1, 60) AS i WHERE u.username = %s""",
                    (name,),
                )
            conn.execute("UPDATE tasks SET title = title || '!' WHERE title LIKE 'task 1%%'")
        yield url


def test_a_round_two_database_upgrades_keeping_every_task(round_two_database: str) -> None:
    columns = (
        "id, user_id, title, completed, completed_at, due_date, priority::text, tags, position,"
        " version, change_seq, updated_at"
    )
    with psycopg.connect(round_two_database, autocommit=True) as conn:
        before = conn.execute(f"SELECT {columns} FROM tasks ORDER BY id").fetchall()
    result = run([str(BIN / "todo-api"), "migrate"], round_two_database)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(round_two_database, autocommit=True) as conn:
        after = conn.execute(f"SELECT {columns} FROM tasks ORDER BY id").fetchall()
        assert len(before) == 120 and after == before
        new = conn.execute(
            """SELECT DISTINCT due_time, time_zone, due_at, recurrence, recurrence_basis,
                      occurrence, last_completed_at, reminders::text, next_reminder_at
               FROM tasks"""
        ).fetchall()
        assert new == [(None, None, None, None, "due", 1, None, "[]", None)]
        zones = conn.execute("SELECT DISTINCT time_zone FROM users").fetchall()
        assert zones == [("UTC",)]
        # The upgraded schema takes this round's values.
        conn.execute(
            """UPDATE tasks SET due_time = '09:30', due_at = due_date + time '09:30',
                      recurrence = 'FREQ=DAILY',
                      reminders = '[{"before": 5, "fires_at": "2099-01-01T00:00:00Z"}]'
               WHERE due_date IS NOT NULL"""
        )
        counts = conn.execute(
            """SELECT count(*) FILTER (WHERE next_reminder_at IS NOT NULL),
                      count(*) FILTER (WHERE due_date IS NOT NULL AND NOT completed), max(version)
               FROM tasks"""
        ).fetchone()
        assert counts == (40, 40, 3)  # a reminder to fire for each pending task


LISTS = "0007_lists"


def manual_order(conn: psycopg.Connection[Any], username: str) -> list[tuple[Any, ...]]:
    """A user's tasks in manual order: (id, position, version, change_seq, tags, completed)."""
    return conn.execute(
        """SELECT t.id, t.position, t.version, t.change_seq, t.tags, t.completed
           FROM tasks AS t JOIN users AS u ON u.id = t.user_id
           WHERE u.username = %s ORDER BY t.position COLLATE "C" """,
        (username,),
    ).fetchall()


@pytest.fixture
def round_two_database_in_manual_order(server_url: str) -> Iterator[str]:
    """A database at round two's schema (0006), with three users: two with tasks in a manual
    order that is not their creation order (tags, completions, moves), one with none."""
    with fresh_database(server_url) as url:
        migrate_through(url, ROUND_TWO)
        with psycopg.connect(url, autocommit=True) as conn:
            for name, count in (("cat", 40), ("dan", 25), ("eve", 0)):
                conn.execute(
                    "INSERT INTO users (email, username, hashed_password) VALUES (%s, %s, 'x')",
                    (f"{name}@example.com", name),
                )
                for i in range(count):
                    conn.execute(
                        """INSERT INTO tasks (user_id, title, tags, completed, completed_at)
                           SELECT id, %s, %s, %s, CASE WHEN %s THEN now() END
                           FROM users WHERE username = %s""",
                        (f"{name} {i}", ["home"] if i % 3 else [], i % 4 == 0, i % 4 == 0, name),
                    )
                ids = [r[0] for r in manual_order(conn, name)]
                for n, moved in enumerate(ids[::5]):  # round two's move: after another task
                    after = ids[(n * 7) % len(ids)]
                    if after != moved:
                        conn.execute(
                            """UPDATE tasks SET position = task_move_position(user_id, id, %s)
                               WHERE id = %s""",
                            (after, moved),
                        )
        yield url


def test_a_round_two_database_gets_an_inbox_per_user_holding_every_task_in_its_order(
    round_two_database_in_manual_order: str,
) -> None:
    with psycopg.connect(round_two_database_in_manual_order, autocommit=True) as conn:
        before = {name: manual_order(conn, name) for name in ("cat", "dan", "eve")}
    result = run([str(BIN / "todo-api"), "migrate"], round_two_database_in_manual_order)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(round_two_database_in_manual_order, autocommit=True) as conn:
        for name, tasks in before.items():
            lists = conn.execute(
                """SELECT l.id, l.name, l.is_default, l.version FROM lists AS l
                   JOIN users AS u ON u.id = l.user_id WHERE u.username = %s""",
                (name,),
            ).fetchall()
            assert [row[1:] for row in lists] == [("Inbox", True, 1)]
            inbox = lists[0][0]
            # Every task, same order, same position, version and change number (not a change).
            assert manual_order(conn, name) == tasks
            in_lists = conn.execute(
                """SELECT DISTINCT t.list_id FROM tasks AS t JOIN users AS u ON u.id = t.user_id
                   WHERE u.username = %s""",
                (name,),
            ).fetchall()
            assert in_lists == ([(inbox,)] if tasks else [])
            counted = conn.execute(
                "SELECT task_count, pending_count FROM list_counts((SELECT user_id FROM lists "
                "WHERE id = %s), %s)",
                (inbox, inbox),
            ).fetchone()
            completed = sum(1 for t in tasks if t[5])
            assert counted == (len(tasks), len(tasks) - completed)
        # New writes work in the upgraded schema: a new task goes on top of the Inbox, a user
        # made now gets an Inbox too.
        conn.execute(
            "INSERT INTO tasks (user_id, title) SELECT id, 'new' FROM users WHERE username = 'cat'"
        )
        assert manual_order(conn, "cat")[0][1] < before["cat"][0][1]
        conn.execute(
            "INSERT INTO users (email, username, hashed_password) "
            "VALUES ('fay@example.com', 'fay', 'x')"
        )
        assert conn.execute(
            "SELECT l.name FROM lists AS l JOIN users AS u ON u.id = l.user_id "
            "WHERE u.username = 'fay' AND l.is_default"
        ).fetchall() == [("Inbox",)]


@pytest.mark.skipif(not PREPARED_STATEMENTS, reason="yoyo's own command prepares statements")
def test_lists_roll_back_to_one_manual_order_per_user(
    round_two_database_in_manual_order: str,
) -> None:
    """After lists were used (positions repeat across lists), rolling 0007 back leaves each user
    one total manual order: their lists in order, each list's tasks in order."""
    migrate_through(round_two_database_in_manual_order, LISTS)
    with psycopg.connect(round_two_database_in_manual_order, autocommit=True) as conn:
        user_id = conn.execute("SELECT id FROM users WHERE username = 'dan'").fetchone()[0]
        # Two more lists, at the bottom; each gets tasks whose positions repeat the Inbox's.
        for name in ("Work", "Trip"):
            conn.execute("INSERT INTO lists (user_id, name) VALUES (%s, %s)", (user_id, name))
            conn.execute(
                """INSERT INTO tasks (user_id, title, list_id)
                   SELECT %s, %s || i, (SELECT id FROM lists WHERE user_id = %s AND name = %s)
                   FROM generate_series(1, 5) AS i""",
                (user_id, name, user_id, name),
            )
        expected = [
            r[0]
            for r in conn.execute(
                """SELECT t.id FROM tasks AS t JOIN lists AS l ON l.id = t.list_id
                   WHERE t.user_id = %s
                   ORDER BY l.position COLLATE "C", t.position COLLATE "C" """,
                (user_id,),
            ).fetchall()
        ]
        cat_before = manual_order(conn, "cat")
    url = yoyo_url(round_two_database_in_manual_order)
    result = run(
        [
            str(BIN / "yoyo"),
            "rollback",
            "--batch",
            "--revision",
            LISTS,
            "--database",
            url,
            "migrations",
        ],
        round_two_database_in_manual_order,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(round_two_database_in_manual_order, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('lists')").fetchone() == (None,)
        assert [r[0] for r in manual_order(conn, "dan")] == expected
        # A user with one list keeps every position.
        assert [r[:2] for r in manual_order(conn, "cat")] == [r[:2] for r in cat_before]
        counts = conn.execute("SELECT count(*) FROM task_counts WHERE tag = ''").fetchone()
        assert counts == (2,)  # cat and dan; eve has none
    result = run(
        [str(BIN / "yoyo"), "apply", "--batch", "--database", url, "migrations"],
        round_two_database_in_manual_order,
    )
    assert result.returncode == 0, result.stderr
