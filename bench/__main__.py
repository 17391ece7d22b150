"""The benchmark: `python -m bench` (README, Performance).

Starts a throwaway PostgreSQL (BENCH_DATABASE_URL's or TEST_DATABASE_URL's server, else an
embedded one), seeds users with 50 tasks each, starts `todo-api serve` as a separate process as
a user would (1 worker, then 2) and the floor app beside it, drives each workload from wrk (or
the Python load generator) over loopback, and prints one table; the figures also go to
bench/results/<time>.json."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import psutil
import psycopg

from bench.workloads import REFRESH_CHAINS, REQUESTS, SeededUser, session_for, write_scripts
from todo_api.auth.tokens import issue_token, new_refresh_token
from todo_api.caller import Caller
from todo_api.db.migrations import apply_migrations
from todo_api.sync_tokens import FeedPosition, SyncTokens
from todo_api.testing import BIN, ROOT, free_port, fresh_database, throwaway_server

SECRET = "bench-secret-that-is-long-enough-0123456789abcdef"
PASSWORD = "bench-password"
ORDER = [
    "list",
    "get",
    "search",
    "sync",
    "update",
    "toggle",
    "create",
    "idempotent_create",
    "refresh",
    "login",
    "bad_token",
]
RESULTS = ROOT / "bench" / "results"
LOGIN_CLIENTS = 8


@dataclass
class Figures:
    workload: str
    target: str
    workers: int
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    errors: int
    rss_mb: float | None = None


def seed(url: str, users: int, tasks_per_user: int) -> list[SeededUser]:
    """Users sharing one password (hashed once, at the default cost) and their tasks."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    seeded = []
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(users):
            name = f"bench{n}"
            row = conn.execute(
                """INSERT INTO users (email, username, hashed_password)
                   VALUES (%s, %s, %s) RETURNING id""",
                (f"{name}@example.com", name, password_hash),
            ).fetchone()
            assert row is not None
            ids = conn.execute(
                """INSERT INTO tasks (user_id, title, description, completed, completed_at)
                   SELECT %s, 'task ' || i || CASE WHEN i %% 3 = 0 THEN ' buy milk' ELSE '' END,
                          CASE WHEN i %% 2 = 0 THEN 'details of task ' || i END,
                          i %% 2 = 0, CASE WHEN i %% 2 = 0 THEN now() END
                   FROM generate_series(1, %s) AS i RETURNING id""",
                (row[0], tasks_per_user),
            ).fetchall()
            conn.execute(
                "INSERT INTO sessions (id, user_id, ends_at) VALUES (%s, %s, now() + '1 day')",
                (session_for(row[0]), row[0]),
            )
            token = issue_token(SECRET, Caller(row[0], session_for(row[0])), 86400)
            up_to_date = SyncTokens(SECRET, 30).encode(row[0], FeedPosition(2**62, 0))
            seeded.append(SeededUser(row[0], name, token, [i[0] for i in ids], up_to_date))
        conn.execute("ANALYZE")
    return seeded


def fresh_refresh_chains(url: str, users: list[SeededUser], path: Path) -> None:
    """REFRESH_CHAINS new sessions, spread over the users, each with one unused refresh token,
    written to `path` one token a line for the load generator."""
    tokens = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM sessions WHERE id NOT LIKE 'bench-session-%'")
        for n in range(REFRESH_CHAINS):
            token, token_hash = new_refresh_token()
            conn.execute(
                """WITH s AS (INSERT INTO sessions (user_id, ends_at)
                              VALUES (%s, now() + interval '1 day') RETURNING id)
                   INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
                   SELECT %s, id, now() + interval '1 day' FROM s""",
                (users[n % len(users)].id, token_hash),
            )
            tokens.append(token)
    path.write_text("\n".join(tokens) + "\n")


def forget_created_tasks(url: str) -> None:
    """Drop what the create workload added, so later workloads list the same data."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM tasks WHERE title = 'bench task'")
        conn.execute("DELETE FROM task_tombstones")  # the deletes above left these
        conn.execute("DELETE FROM idempotency_keys")
        conn.execute("VACUUM ANALYZE tasks")


class Process:
    """A server process: started, waited for, measured, stopped."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port)],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/api/x/tasks/1/complete", timeout=1)
                break
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start; see {log}") from None
                time.sleep(0.2)

    def worker_rss_mb(self) -> float:
        """The largest resident set among the processes that serve requests."""
        root = psutil.Process(self.proc.pid)
        processes = [root, *root.children(recursive=True)]
        serving = [p for p in processes if p.pid != root.pid] or [root]
        return max(p.memory_info().rss for p in serving) / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._log.close()


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[Process]:
    process = Process(command, env, log)
    try:
        yield process
    finally:
        process.stop()


def drive(
    base: str, workload: str, seconds: float, connections: int, ctx: dict[str, Any]
) -> dict[str, Any]:
    """One load run; the figures the load generator printed."""
    if workload == "refresh":
        ctx["fresh_chains"]()
    if ctx["wrk"]:
        threads = str(min(connections, os.cpu_count() or 2))
        command = [
            ctx["wrk"],
            "-t",
            threads,
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(ctx["scripts"][workload]),
            base,
            "--",
            threads,
            str(ctx["chains"]),
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "bench.loadgen",
            base,
            workload,
            str(ctx["users_json"]),
            str(connections),
            str(seconds),
            str(ctx["chains"]),
        ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the load generator failed: {done.stdout}{done.stderr}")
    line = lines[0]
    figures: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return figures


def measure(
    target: Process,
    name: str,
    workload: str,
    workers: int,
    args: argparse.Namespace,
    ctx: dict[str, Any],
    connections: int | None = None,
) -> Figures:
    connections = connections or args.connections
    drive(target.base, workload, args.warmup, connections, ctx)
    raw = drive(target.base, workload, args.duration, connections, ctx)
    return Figures(
        workload=workload,
        target=name,
        workers=workers,
        connections=connections,
        requests_per_s=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        non2xx=raw["non2xx"],
        errors=raw["errors"],
        rss_mb=target.worker_rss_mb(),
    )


def login_contention(app: Process, args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, Any]:
    """Logins at the default bcrypt cost from 8 clients, while the list workload runs: the list
    workload's p99 shows whether hashing stalls everyone else."""
    login: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: login.update(drive(app.base, "login", args.duration + 2, LOGIN_CLIENTS, ctx))
    )
    thread.start()
    time.sleep(1)
    listing = drive(app.base, "list", args.duration, args.connections, ctx)
    thread.join()
    return {
        "list_p99_ms": listing["p99_us"] / 1000,
        "list_requests_per_s": listing["requests"] / (listing["duration_us"] / 1e6),
        "list_non2xx": listing["non2xx"],
        "login_requests_per_s": login["requests"] / (login["duration_us"] / 1e6),
        "login_non2xx": login["non2xx"],
        "login_p99_ms": login["p99_us"] / 1000,
    }


def table(rows: list[Figures]) -> str:
    floors = {(r.workload, r.workers): r for r in rows if r.target == "floor"}
    columns = [
        "workers", "workload", "req/s", "p50 ms", "p99 ms", "non-2xx", "errors", "RSS MB",
        "floor req/s", "ratio", "floor p99 ms", "p99 / floor",
    ]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + " ---: |" * len(columns)]
    for r in rows:
        if r.target != "todo-api":
            continue
        f = floors.get((r.workload, r.workers))
        ratio = f"{r.requests_per_s / f.requests_per_s:.2f}x" if f else ""
        p99 = f"{r.p99_ms / f.p99_ms:.2f}x" if f and f.p99_ms else ""
        cells = [
            str(r.workers), r.workload, f"{r.requests_per_s:,.0f}", f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}", str(r.non2xx), str(r.errors), f"{r.rss_mb:.0f}",
            f"{f.requests_per_s:,.0f}" if f else "", ratio, f"{f.p99_ms:.1f}" if f else "", p99,
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per workload")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per workload")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--workloads", default=",".join(ORDER))
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument(
        "--python-loadgen",
        action="store_true",
        help="use the Python load generator even if wrk is installed",
    )
    args = parser.parse_args()
    workloads = [w for w in ORDER if w in args.workloads.split(",")]

    folder = Path(tempfile.mkdtemp(prefix="todo-api-bench-"))
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    rows: list[Figures] = []
    contention: dict[str, Any] = {}
    with (
        throwaway_server(configured, folder) as server_url,
        fresh_database(server_url, "todo_bench") as url,
    ):
        apply_migrations(url)
        users = seed(url, args.users, 50)
        users_json = folder / "users.json"
        users_json.write_text(json.dumps([asdict(u) for u in users]))
        ctx = {
            "wrk": None if args.python_loadgen else shutil.which("wrk"),
            "scripts": write_scripts(folder / "lua", users),
            "users_json": users_json,
            "chains": folder / "refresh-chains.txt",
            "fresh_chains": lambda: fresh_refresh_chains(url, users, folder / "refresh-chains.txt"),
        }
        print(f"load generator: {ctx['wrk'] or 'python (bench/loadgen.py)'}", flush=True)
        app_env = {
            "DATABASE_URL": url,
            "JWT_SECRET": SECRET,
            "MIGRATE_ON_START": "false",
            "HOST": "127.0.0.1",
        }
        for workers in [int(w) for w in args.workers.split(",")]:
            app_cmd = [str(BIN / "todo-api"), "serve", "--workers", str(workers)]
            floor_cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.floor:app",
                "--host",
                "127.0.0.1",
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            with (
                running(app_cmd, app_env, folder / f"app-{workers}.log") as app,
                running(floor_cmd, {"DATABASE_URL": url}, folder / f"floor-{workers}.log") as floor,
            ):
                for workload in workloads:
                    floor_able = REQUESTS[workload][1]
                    # Logins are measured with 8 clients, as the target for them says.
                    connections = LOGIN_CLIENTS if workload == "login" else None
                    if floor_able:
                        rows.append(measure(floor, "floor", workload, workers, args, ctx))
                    rows.append(measure(app, "todo-api", workload, workers, args, ctx, connections))
                    print(
                        f"  {workers} worker(s) {workload}: {rows[-1].requests_per_s:,.0f} req/s",
                        flush=True,
                    )
                    if workload in ("create", "idempotent_create"):
                        forget_created_tasks(url)
                if workers == 1 and "login" in workloads:
                    contention = login_contention(app, args, ctx)

    print()
    print(table(rows))
    if contention:
        print()
        c = contention
        print(
            f"login at bcrypt cost 12 from 8 clients: {c['login_requests_per_s']:.1f} logins/s, "
            f"{c['login_non2xx']} non-2xx; meanwhile list: "
            f"{c['list_requests_per_s']:,.0f} req/s, p99 {c['list_p99_ms']:.1f} ms"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "when": stamp,
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "settings": vars(args),
        "rows": [asdict(r) for r in rows],
        "login_contention": contention,
    }
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nresults: {out.relative_to(ROOT)}")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
