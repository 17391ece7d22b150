"""What each task statement costs in the database, on two schemas side by side: the migrations up
to `--before` (default: all but the newest) and all of them. One connection per database, one
statement at a time (no HTTP, no Python layer: the round trip and the statement), in alternating
rounds so that the machine's drift hits both alike; prints the median time per statement of each
side and their ratio. This is how the write path's changes were measured (README, Performance).

    python -m bench.statements [--before 0006_task_counts] [--rounds 7] [--count 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
from yoyo import get_backend, read_migrations

from bench.workloads import session_for
from todo_api.caller import Caller
from todo_api.db.migrations import apply_migrations
from todo_api.db.pool import yoyo_url
from todo_api.db.queries import QUERIES
from todo_api.db.tasks import NO_SCHEDULE, Filters, PageRequest, page_statement
from todo_api.testing import ROOT, fresh_database, throwaway_server

TASKS = 50

Statement = Callable[[str, list[int], int], tuple[Any, ...]]


def _unconditional(user_id: str) -> dict[str, Any]:
    return {**Caller(user_id, session_for(user_id)).params, "if_match": None}


def _insert(user_id: str, tasks: list[int], n: int) -> tuple[Any, ...]:
    return QUERIES["task_insert"](
        **_unconditional(user_id), title=f"task {n}", description=None, completed=False,
        due_date=None, priority="none", tags=[], list_id=None, **NO_SCHEDULE.params,
    )  # fmt: skip


def _toggle(user_id: str, tasks: list[int], n: int) -> tuple[Any, ...]:
    return QUERIES["task_set_completed"](
        **_unconditional(user_id), task_id=tasks[n % len(tasks)], completed=None
    )


def _update(user_id: str, tasks: list[int], n: int) -> tuple[Any, ...]:
    return QUERIES["task_update"](
        **_unconditional(user_id), task_id=tasks[n % len(tasks)], set_title=True,
        title=f"renamed {n}", set_description=False, description=None, completed=None,
        set_due_date=False, due_date=None, priority=None, tags=None, list_id=None,
        set_schedule=False, **NO_SCHEDULE.params,
    )  # fmt: skip


def _move(user_id: str, tasks: list[int], n: int) -> tuple[Any, ...]:
    i, j = n % len(tasks), (n * 7 + 3) % len(tasks)
    after = tasks[j] if j != i else None
    return QUERIES["task_move"](
        **_unconditional(user_id), task_id=tasks[i], after_id=after, list_id=None
    )


def _get(user_id: str, tasks: list[int], n: int) -> tuple[Any, ...]:
    return QUERIES["task_get"](**_unconditional(user_id), task_id=tasks[n % len(tasks)])


def _list(user_id: str, tasks: list[int], n: int) -> tuple[Any, ...]:
    caller = Caller(user_id, session_for(user_id))
    return page_statement(caller, Filters(), PageRequest("created", "desc", 50))


STATEMENTS: dict[str, Statement] = {
    "create": _insert,
    "toggle": _toggle,
    "update": _update,
    "move": _move,
    "get": _get,
    "list": _list,
}


def migrate_until(url: str, last: str) -> None:
    """The migrations up to and including `last`, as an older release left the database."""
    backend = get_backend(yoyo_url(url))
    try:
        migrations = read_migrations(str(ROOT / "migrations"))
        ids = [m.id for m in migrations]
        keep = set(ids[: ids.index(last) + 1])
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id in keep)))
    finally:
        backend.connection.close()


def seed(url: str) -> tuple[str, list[int]]:
    """One user with a session and TASKS tasks."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO users (email, username, hashed_password)
               VALUES ('s@example.com', 'statements', 'x') RETURNING id"""
        ).fetchone()
        assert row is not None
        user_id = row[0]
        conn.execute(
            "INSERT INTO sessions (id, user_id, ends_at) VALUES (%s, %s, now() + '1 day')",
            (session_for(user_id), user_id),
        )
        tasks = conn.execute(
            """INSERT INTO tasks (user_id, title, tags)
               SELECT %s, 'task ' || i, CASE WHEN i %% 3 = 0 THEN '{home}'::text[] ELSE '{}' END
               FROM generate_series(1, %s) AS i RETURNING id""",
            (user_id, TASKS),
        ).fetchall()
        conn.execute("ANALYZE")
    return user_id, [t[0] for t in tasks]


def cpu_ns(pid: int) -> int | None:
    """The CPU time a local process has used so far, in nanoseconds (None: not on this machine)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


async def measure(
    urls: dict[str, str], rounds: int, count: int
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Median microseconds per statement, by statement and side: wall time, server CPU time."""
    seeded = {side: seed(url) for side, url in urls.items()}
    conns = {side: await asyncpg.connect(url) for side, url in urls.items()}
    pids = {side: await conn.fetchval("SELECT pg_backend_pid()") for side, conn in conns.items()}
    times: dict[str, dict[str, list[float]]] = {
        name: {side: [] for side in urls} for name in STATEMENTS
    }
    cpu: dict[str, dict[str, list[float]]] = {
        name: {side: [] for side in urls} for name in STATEMENTS
    }
    try:
        for r in range(rounds):
            for name, statement in STATEMENTS.items():
                sides = list(urls) if r % 2 == 0 else list(reversed(urls))
                for side in sides:
                    user_id, tasks = seeded[side]
                    conn = conns[side]
                    started, cpu_started = time.perf_counter(), cpu_ns(pids[side])
                    for n in range(count):
                        await conn.fetch(*statement(user_id, tasks, n))
                    times[name][side].append((time.perf_counter() - started) / count * 1e6)
                    cpu_done = cpu_ns(pids[side])
                    if cpu_started is not None and cpu_done is not None:
                        cpu[name][side].append((cpu_done - cpu_started) / count / 1000)
    finally:
        for conn in conns.values():
            await conn.close()

    def medians(values: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
        return {
            name: {side: statistics.median(t) if t else float("nan") for side, t in by_side.items()}
            for name, by_side in values.items()
        }

    return medians(times), medians(cpu)


def main() -> None:
    migrations = sorted(
        p.stem for p in (ROOT / "migrations").glob("*.sql") if ".rollback" not in p.name
    )
    parser = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__)
    parser.add_argument("--before", default=migrations[-2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    folder = Path(tempfile.mkdtemp(prefix="todo-api-statements-"))
    with (
        throwaway_server(configured, folder) as server,
        fresh_database(server, "todo_before") as before,
        fresh_database(server, "todo_after") as after,
    ):
        migrate_until(before, args.before)
        apply_migrations(after)
        wall, cpu = asyncio.run(
            measure({"before": before, "after": after}, args.rounds, args.count)
        )
    print(f"µs per statement (median of {args.rounds} rounds of {args.count}), one connection:")
    print(
        f"| statement | wall, up to {args.before} | wall, {migrations[-1]} | after / before "
        "| server CPU, before | server CPU, after | after / before |"
    )
    print("| --- |" + " ---: |" * 6)
    for name, t in wall.items():
        c = cpu[name]
        print(
            f"| {name} | {t['before']:.0f} | {t['after']:.0f} | {t['after'] / t['before']:.2f} "
            f"| {c['before']:.0f} | {c['after']:.0f} | {c['after'] / c['before']:.2f} |"
        )


if __name__ == "__main__":
    main()
