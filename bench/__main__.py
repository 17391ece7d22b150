"""The benchmark: `python -m bench` (README, Performance).

Starts a throwaway PostgreSQL (BENCH_DATABASE_URL's or TEST_DATABASE_URL's server, else an
embedded one), seeds users with 50 tasks each, starts `todo-api serve` as a separate process as
a user would (1 worker, then 2) and the two floor apps beside it (bench/plain.py: the least
the route could do; bench/floor.py: the service's own statements), drives each workload from
wrk (or the Python load generator) over loopback, and prints one table; then the cost of METRICS=on
against METRICS=off, the task workloads with and without idle event streams open, the
workloads with the time fields against their twins without them, and the later stages. The
figures also go to bench/results/<time>.json.
It exits 1 when a request failed or got another status than its workload expects."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import psutil
import psycopg

from bench import events, plain, replicas, sizes
from bench.loadgen import request_for
from bench.processes import app_command, floor_command, serving, serving_pids, worker_rss_mb
from bench.workloads import (
    PASSWORD,
    REFRESH_CHAINS,
    SECRET,
    WORKLOADS,
    SeededUser,
    session_for,
    write_scripts,
)
from todo_api.auth.personal import new_personal_token
from todo_api.auth.tokens import issue_token, new_refresh_token
from todo_api.caller import Caller
from todo_api.db.migrations import apply_migrations
from todo_api.models.time import Schedule, series_ahead
from todo_api.sync_tokens import FeedPosition, SyncTokens
from todo_api.testing import ROOT, Server, fresh_database, throwaway_server

ORDER = list(WORKLOADS)
RESULTS = ROOT / "bench" / "results"
LOGIN_CLIENTS = 8
TASKS_PER_USER = 50
# The workloads measured with METRICS=on against METRICS=off.
METRICS_WORKLOADS = ["list", "get", "create", "sync"]
# The task workloads measured without event streams, with idle ones (IDLE_STREAMS for each of
# as many users as were seeded, who write nothing meanwhile: their streams get pings only), and
# with live ones (as many for each seeded user: every write sends an event to 10 streams).
IDLE_STREAM_WORKLOADS = ["create", "toggle", "list", "get"]
IDLE_STREAMS = 10
STREAM_SETTINGS = ("without", "idle", "live")
# Issue 19: each workload with the time fields (a due time, a recurrence, a reminder), measured
# against its twin without them, in turn on one server.
TIME_PAIRS = {"create": "create_timed", "update": "update_timed", "toggle": "complete_recurring"}
TIME_ROUNDS = 3

# A stage run after the workload tables: given the PostgreSQL server's URL, a scratch folder
# and whether this is a quick (smoke) run, it returns what goes into the results under its name
# ("ok": false when it failed). Each can also run alone: python -m bench.sizes, bench.replicas.
Stage = Callable[[str, Path, bool], dict[str, Any]]
LATER_STAGES: list[tuple[str, Stage]] = [
    ("sizes", sizes.run),
    ("events", events.run),
    ("replicas", replicas.run),
]


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
    # The CPU time the serving processes spent per request (user and system): less moved by
    # the other jobs of a shared machine than the throughput, which waits on them too.
    cpu_ms_per_request: float | None = None


def serving_cpu_s(server: Server) -> float:
    """The CPU time (user and system) the processes serving requests have spent so far."""
    times = [psutil.Process(pid).cpu_times() for pid in serving_pids(server)]
    return float(sum(t.user + t.system for t in times))


def seed(url: str, users: int, tasks_per_user: int) -> list[SeededUser]:
    """Users sharing one password (hashed once, at the default cost) and their tasks: half of
    them completed, 4 in 5 due (from 6 days ago to 10 days ahead), every priority, tags "home"
    (about a third), "work" (another third), "urgent" (1 in 7). The tasks as seeded are kept
    in bench_seed_tasks, for restore_seed."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    seeded = []
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(users):
            name = f"bench{n}"
            user_id, token = _signed_in_user(conn, name, password_hash)
            tasks = conn.execute(
                """INSERT INTO tasks (user_id, title, description, completed, completed_at,
                                      due_date, priority, tags)
                   SELECT %s, 'task ' || i || CASE WHEN i %% 3 = 0 THEN ' buy milk' ELSE '' END,
                          CASE WHEN i %% 2 = 0 THEN 'details of task ' || i END,
                          i %% 2 = 0, CASE WHEN i %% 2 = 0 THEN now() END,
                          CASE WHEN i %% 5 <> 0 THEN current_date + (i %% 17 - 6) END,
                          (ARRAY['none', 'low', 'medium', 'high'])[i %% 4 + 1]::task_priority,
                          array_remove(ARRAY[
                              CASE i %% 3 WHEN 1 THEN 'home' WHEN 2 THEN 'work' END,
                              CASE WHEN i %% 7 = 0 THEN 'urgent' END], NULL)
                   FROM generate_series(1, %s) AS i RETURNING id, version""",
                (user_id, tasks_per_user),
            ).fetchall()
            personal, personal_hash = new_personal_token()
            conn.execute(
                """INSERT INTO personal_tokens (user_id, name, scope, token_hash)
                   VALUES (%s, 'bench', 'write', %s)""",
                (user_id, personal_hash),
            )
            up_to_date = SyncTokens(SECRET, 30).encode(user_id, FeedPosition(2**62, 0))
            ids, versions = [t[0] for t in tasks], [t[1] for t in tasks]
            inbox = conn.execute(
                "SELECT id FROM lists WHERE user_id = %s AND is_default", (user_id,)
            ).fetchone()
            assert inbox is not None
            seeded.append(
                SeededUser(user_id, name, token, ids, versions, up_to_date, inbox[0], personal)
            )
        conn.execute("CREATE TABLE bench_seed_tasks AS SELECT * FROM tasks")
        for statement in plain.TABLES:
            conn.execute(statement)
        with conn.transaction():
            for statement in plain.RESTORE[:-1]:
                conn.execute(statement)
        conn.execute("ANALYZE")
    return seeded


def _signed_in_user(
    conn: psycopg.Connection[Any], name: str, password_hash: str
) -> tuple[str, str]:
    """A new user named `name`, with the benchmark's session (session_for) and an access token
    of it: (id, token)."""
    row = conn.execute(
        """INSERT INTO users (email, username, hashed_password)
           VALUES (%s, %s, %s) RETURNING id""",
        (f"{name}@example.com", name, password_hash),
    ).fetchone()
    assert row is not None
    user_id: str = row[0]
    conn.execute(
        "INSERT INTO sessions (id, user_id, ends_at) VALUES (%s, %s, now() + '1 day')",
        (session_for(user_id), user_id),
    )
    return user_id, issue_token(SECRET, Caller(user_id, session_for(user_id)), 86400)


def watchers(url: str, count: int) -> list[tuple[str, str]]:
    """`count` users without tasks, who take no part in the workloads, each with a session and
    an access token: (id, token) for each, the owners of the idle streams."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    with psycopg.connect(url, autocommit=True) as conn:
        return [_signed_in_user(conn, f"watcher{n}", password_hash) for n in range(count)]


def restore_seed(url: str) -> None:
    """The tasks exactly as seeded (same ids, versions, positions), and nothing the writes
    left: no created tasks, tombstones or idempotency keys, no dead rows; the plain floor's
    table likewise. First the requests still running from the last load run finish; any later
    one waits for the restore's lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        wait_until_quiet(conn)
        with conn.transaction():
            conn.execute("TRUNCATE tasks, task_tombstones, idempotency_keys")
            conn.execute("INSERT INTO tasks OVERRIDING SYSTEM VALUE SELECT * FROM bench_seed_tasks")
            for statement in plain.RESTORE[:-1]:
                conn.execute(statement)
        conn.execute("ANALYZE tasks")
        conn.execute(plain.RESTORE[-1])


def make_recurring(url: str) -> None:
    """Every seeded task pending, due and recurring daily: each completion advances it. Each
    with its next occurrences planned ahead, as the API plans them when it writes a schedule
    (a task made so through the API; migrations/0014)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """UPDATE tasks SET completed = false, completed_at = NULL,
                                due_date = COALESCE(due_date, current_date),
                                recurrence = 'FREQ=DAILY'"""
        )
        for (day,) in conn.execute("SELECT DISTINCT due_date FROM tasks").fetchall():
            ahead = series_ahead(Schedule(due_date=day, recurrence="FREQ=DAILY"), "UTC")
            assert ahead is not None
            conn.execute(
                "UPDATE tasks SET ahead_dates = %s, ahead_ends = %s WHERE due_date = %s",
                (ahead.dates, ahead.ends, day),
            )
        conn.execute("ANALYZE tasks")


def wait_until_quiet(conn: psycopg.Connection[Any], timeout: float = 10) -> None:
    """Until no other client of this database is running a statement or holding a transaction
    open, twice in a row (a server answers what it had queued after wrk has gone)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        row = conn.execute(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND backend_type = 'client backend' AND state <> 'idle'"""
        ).fetchone()
        quiet = quiet + 1 if row is not None and row[0] == 0 else 0
        time.sleep(0.02)


def fresh_refresh_chains(url: str, users: list[SeededUser], path: Path) -> None:
    """REFRESH_CHAINS new sessions, spread over the users, each with one unused refresh token,
    written to `path` one token a line for the load generator. First the refreshes still
    running from the last load run finish (each rotates a token of a session deleted here: the
    two deadlocked)."""
    tokens = []
    with psycopg.connect(url, autocommit=True) as conn:
        wait_until_quiet(conn)
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


@dataclass
class Bench:
    """One benchmark run's data and load generator: prepares, probes and drives workloads."""

    url: str
    users: list[SeededUser]
    folder: Path
    args: argparse.Namespace
    wrk: str | None
    scripts: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scripts = write_scripts(self.folder / "lua", self.users)
        self.users_json = self.folder / "users.json"
        self.users_json.write_text(json.dumps([asdict(u) for u in self.users]))
        self.chains = self.folder / "refresh-chains.txt"

    def prepare(self, workload: str) -> None:
        """What a load run of the workload starts from: the seeded tasks, fresh refresh chains."""
        if WORKLOADS[workload].tasks:
            restore_seed(self.url)
        if WORKLOADS[workload].recurring:
            make_recurring(self.url)
        if workload == "refresh":
            fresh_refresh_chains(self.url, self.users, self.chains)

    def probe(self, server: Server, workload: str) -> None:
        """One request of the workload, as the Python load generator makes it: it must get the
        workload's status (a stale ETag would turn conditional_get into get unnoticed)."""
        self.prepare(workload)
        chain = self.chains.read_text().split() if workload == "refresh" else []
        user = asdict(self.users[0])
        method, path, headers, body = request_for(workload, user, chain)
        response = httpx.request(method, server.base + path, headers=headers, json=body, timeout=30)
        expected = WORKLOADS[workload].status
        if response.status_code != expected:
            raise RuntimeError(
                f"{workload} on {server.base}: {method} {path} answered {response.status_code}, "
                f"not {expected}: {response.text[:500]}"
            )

    def drive(
        self, base: str, workload: str, seconds: float, connections: int, prepare: bool = True
    ) -> dict[str, Any]:
        """One load run; the figures the load generator printed."""
        if prepare:
            self.prepare(workload)
        if self.wrk:
            threads = str(min(connections, os.cpu_count() or 2))
            command = [
                self.wrk, "-t", threads, "-c", str(connections), "-d",
                f"{max(1, round(seconds))}s", "--timeout", "10s", "-s",
                str(self.scripts[workload]), base, "--", threads, str(self.chains),
            ]  # fmt: skip
        else:
            command = [
                sys.executable, "-m", "bench.loadgen", base, workload, str(self.users_json),
                str(connections), str(seconds), str(self.chains),
            ]  # fmt: skip
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"the load generator failed: {done.stdout}{done.stderr}")
        figures: dict[str, Any] = json.loads(lines[0].removeprefix("BENCH "))
        return figures

    def measure(
        self,
        server: Server,
        target: str,
        workload: str,
        workers: int,
        connections: int | None = None,
    ) -> Figures:
        """A warm-up run (unless --warmup 0), then the measured one, each from the seed."""
        connections = connections or self.args.connections
        if self.args.warmup > 0:
            self.drive(server.base, workload, self.args.warmup, connections)
        self.prepare(workload)
        cpu = serving_cpu_s(server)
        raw = self.drive(server.base, workload, self.args.duration, connections, prepare=False)
        cpu = serving_cpu_s(server) - cpu
        return Figures(
            workload=workload,
            target=target,
            workers=workers,
            connections=connections,
            requests_per_s=raw["requests"] / (raw["duration_us"] / 1e6),
            p50_ms=raw["p50_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000,
            non2xx=raw["non2xx"],
            errors=raw["errors"],
            rss_mb=worker_rss_mb(server),
            cpu_ms_per_request=cpu * 1000 / raw["requests"] if raw["requests"] else None,
        )


def login_contention(bench: Bench, app: Server) -> dict[str, Any]:
    """Logins at the default bcrypt cost from 8 clients, while the list workload runs: the list
    workload's p99 shows whether hashing stalls everyone else."""
    seconds = bench.args.duration
    login: dict[str, Any] = {}
    bench.prepare("list")
    thread = threading.Thread(
        target=lambda: login.update(bench.drive(app.base, "login", seconds + 2, LOGIN_CLIENTS))
    )
    thread.start()
    time.sleep(1)
    listing = bench.drive(app.base, "list", seconds, bench.args.connections, prepare=False)
    thread.join()
    return {
        "list_p99_ms": listing["p99_us"] / 1000,
        "list_requests_per_s": listing["requests"] / (listing["duration_us"] / 1e6),
        "list_non2xx": listing["non2xx"],
        "login_requests_per_s": login["requests"] / (login["duration_us"] / 1e6),
        "login_non2xx": login["non2xx"],
        "login_p99_ms": login["p99_us"] / 1000,
    }


def metrics_cost(bench: Bench, app_env: dict[str, str], workloads: list[str]) -> dict[str, Any]:
    """The workloads at 1 worker with METRICS=on and with METRICS=off, each on a freshly started
    server, alternating on/off/on/off (on/off in a quick run) so drift hits both alike."""
    settings = ["on", "off"] if bench.args.quick else ["on", "off", "on", "off"]
    runs: dict[str, dict[str, list[float]]] = {w: {"on": [], "off": []} for w in workloads}
    for setting in settings:
        with serving(app_command(1), {**app_env, "METRICS": setting}) as app:
            for workload in workloads:
                figures = bench.measure(app, f"todo-api METRICS={setting}", workload, 1)
                runs[workload][setting].append(figures.requests_per_s)
                print(f"  METRICS={setting} {workload}: {figures.requests_per_s:,.0f} req/s")
    result = {}
    for workload, by_setting in runs.items():
        on, off = statistics.mean(by_setting["on"]), statistics.mean(by_setting["off"])
        result[workload] = {"on_req_s": on, "off_req_s": off, "on_off": on / off, **by_setting}
    return result


def with_cpu(figures: Figures) -> str:
    """A comparison run's progress line: its throughput and the server's CPU time a request."""
    return (
        f"{figures.requests_per_s:,.0f} req/s,"
        f" {figures.cpu_ms_per_request or 0.0:.3f} CPU ms a request"
    )


def time_fields_cost(
    bench: Bench, app_env: dict[str, str], pairs: dict[str, str]
) -> dict[str, Any]:
    """Each workload with the time fields against its twin without them (`pairs`: twin ->
    timed), at 1 worker on one server, twin then timed, TIME_ROUNDS times (once in a quick run)
    so that drift hits both alike: the mean throughput of each, the ratio of the means and that
    of each round, and the server's CPU time a request."""
    rounds = 1 if bench.args.quick else TIME_ROUNDS
    runs = {timed: {"twin": list[Figures](), "timed": list[Figures]()} for timed in pairs.values()}
    with serving(app_command(1), app_env) as app:
        for _ in range(rounds):
            for twin, timed in pairs.items():
                for kind, workload in (("twin", twin), ("timed", timed)):
                    figures = bench.measure(app, "todo-api time fields", workload, 1)
                    runs[timed][kind].append(figures)
                    print(f"  time fields {workload}: {with_cpu(figures)}", flush=True)
    result: dict[str, Any] = {}
    for twin, timed in pairs.items():
        by_kind = runs[timed]
        req_s = {k: [f.requests_per_s for f in fs] for k, fs in by_kind.items()}
        means = {k: statistics.mean(v) for k, v in req_s.items()}
        result[timed] = {
            "twin": twin,
            "twin_req_s": means["twin"],
            "timed_req_s": means["timed"],
            "timed_twin": means["timed"] / means["twin"],
            "rounds": [t / w for w, t in zip(req_s["twin"], req_s["timed"], strict=True)],
            "cpu_ms_per_request": {
                k: statistics.mean(f.cpu_ms_per_request or 0.0 for f in fs)
                for k, fs in by_kind.items()
            },
            "twin_runs_req_s": req_s["twin"],
            "timed_runs_req_s": req_s["timed"],
        }
    return result


def idle_streams_cost(
    bench: Bench, app_env: dict[str, str], workloads: list[str]
) -> dict[str, Any]:
    """The workloads at 1 worker on one server without streams, with IDLE_STREAMS idle streams
    open for each of as many watchers (users who write nothing meanwhile), and with as many
    live ones (IDLE_STREAMS for each seeded user, so each write goes out to 10 streams), in
    turn and twice (once each in a quick run) so drift hits all alike; and the share of one
    core the benchmark's own reading of the streams took meanwhile (on this machine, taken
    from the server and the load generator)."""
    settings = list(STREAM_SETTINGS) * (1 if bench.args.quick else 2)
    runs = {w: {setting: list[Figures]() for setting in STREAM_SETTINGS} for w in workloads}
    env = {**app_env, **events.MANY_STREAMS, "EVENTS_MAX_STREAMS": str(IDLE_STREAMS)}
    owners = {
        "idle": watchers(bench.url, len(bench.users)),
        "live": [(u.id, u.token) for u in bench.users],
    }
    streams, reading_s, elapsed_s = 0, 0.0, 0.0
    with serving(app_command(1), env) as app:
        for setting in settings:
            with contextlib.ExitStack() as opened:
                open_ones = (
                    opened.enter_context(events.idle_streams(app, owners[setting], IDLE_STREAMS))
                    if setting in owners
                    else None
                )
                started, cpu = time.monotonic(), open_ones.cpu_seconds() if open_ones else 0.0
                for workload in workloads:
                    figures = bench.measure(app, f"todo-api {setting} streams", workload, 1)
                    runs[workload][setting].append(figures)
                    print(f"  {setting} streams {workload}: {with_cpu(figures)}", flush=True)
                if open_ones:
                    streams = open_ones.count
                    reading_s += open_ones.cpu_seconds() - cpu
                    elapsed_s += time.monotonic() - started
    result: dict[str, Any] = {
        "streams": streams,
        "streams_each": IDLE_STREAMS,
        "reader_cpu_share": reading_s / elapsed_s if elapsed_s else 0.0,
    }
    for workload, by_setting in runs.items():
        req_s = {s: [f.requests_per_s for f in by_setting[s]] for s in STREAM_SETTINGS}
        means = {s: statistics.mean(req_s[s]) for s in STREAM_SETTINGS}
        cpu_ms = {
            s: statistics.mean(f.cpu_ms_per_request or 0.0 for f in by_setting[s])
            for s in STREAM_SETTINGS
        }
        result[workload] = {
            "cpu_ms_per_request": cpu_ms,
            "idle_cpu": cpu_ms["idle"] / cpu_ms["without"],
            "live_cpu": cpu_ms["live"] / cpu_ms["without"],
            "without_req_s": means["without"],
            "idle_req_s": means["idle"],
            "live_req_s": means["live"],
            "idle_without": means["idle"] / means["without"],
            "live_without": means["live"] / means["without"],
            **req_s,
        }
    return result


def table(rows: list[Figures]) -> str:
    """One line per workload of the service: its figures, then each floor's throughput and the
    ratio to it (the plain floor: the least the route could do; the same-SQL floor: the service's
    statements without its Python layer), and the p99 against the same-SQL floor's."""
    floors = {(r.target, r.workload, r.workers): r for r in rows if r.target != "todo-api"}
    columns = [
        "workers", "workload", "req/s", "p50 ms", "p99 ms", "non-2xx", "errors", "RSS MB",
        "plain req/s", "vs plain", "same-SQL req/s", "vs same-SQL", "p99 / same-SQL",
    ]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + " ---: |" * len(columns)]
    for r in rows:
        if r.target != "todo-api":
            continue
        cells = [
            str(r.workers), r.workload, f"{r.requests_per_s:,.0f}", f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}", str(r.non2xx), str(r.errors), f"{r.rss_mb:.0f}",
        ]  # fmt: skip
        for target in ("plain", "floor"):
            f = floors.get((target, r.workload, r.workers))
            ratio = f"{r.requests_per_s / f.requests_per_s:.2f}x" if f else ""
            cells += [f"{f.requests_per_s:,.0f}" if f else "", ratio]
        f = floors.get(("floor", r.workload, r.workers))
        cells.append(f"{r.p99_ms / f.p99_ms:.2f}x" if f and f.p99_ms else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def metrics_table(cost: dict[str, Any]) -> str:
    lines = ["| workload | METRICS=off req/s | METRICS=on req/s | on / off |", "|" + " ---: |" * 4]
    for workload, c in cost.items():
        lines.append(
            f"| {workload} | {c['off_req_s']:,.0f} | {c['on_req_s']:,.0f} | {c['on_off']:.3f} |"
        )
    return "\n".join(lines)


def time_fields_table(cost: dict[str, Any]) -> str:
    columns = [
        "workload", "twin", "twin req/s", "req/s", "req/s / twin's", "each round",
        "CPU ms a request: twin / it",
    ]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + " ---: |" * len(columns)]
    for workload, c in cost.items():
        lines.append(
            f"| {workload} | {c['twin']} | {c['twin_req_s']:,.0f} | {c['timed_req_s']:,.0f} "
            f"| {c['timed_twin']:.3f} | {', '.join(f'{r:.2f}' for r in c['rounds'])} "
            f"| {' / '.join(f'{v:.3f}' for v in c['cpu_ms_per_request'].values())} |"
        )
    return "\n".join(lines)


def idle_streams_table(cost: dict[str, Any]) -> str:
    columns = [
        "workload", "no streams req/s", "idle streams req/s", "idle / none",
        "live streams req/s", "live / none", "CPU ms a request: none / idle / live",
    ]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + " ---: |" * len(columns)]
    for workload, c in cost.items():
        if isinstance(c, dict):
            lines.append(
                f"| {workload} | {c['without_req_s']:,.0f} | {c['idle_req_s']:,.0f} "
                f"| {c['idle_without']:.3f} | {c['live_req_s']:,.0f} | {c['live_without']:.3f} "
                f"| {' / '.join(f'{v:.3f}' for v in c['cpu_ms_per_request'].values())} |"
            )
    return "\n".join(lines)


def failures(rows: list[Figures]) -> list[str]:
    """Load runs with requests that failed, or got a 4xx/5xx their workload does not allow."""
    found = []
    for r in rows:
        workload = WORKLOADS[r.workload]
        allowed = workload.status >= 400 or workload.refusals_allowed
        unexpected = 0 if allowed else r.non2xx
        if r.errors or unexpected:
            found.append(
                f"{r.target} ({r.workers} worker(s)) {r.workload}: {r.errors} errors, "
                f"{unexpected} unexpected non-2xx"
            )
    return found


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per workload")
    parser.add_argument(
        "--warmup", type=float, default=3, help="seconds of warm-up per workload (0: none)"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--workloads", default=",".join(ORDER))
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument(
        "--stages",
        default=",".join(name for name, _ in LATER_STAGES),
        help="later stages to run after the workloads (comma-separated; empty: none)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run, to check that everything runs (its figures mean nothing): 1 s per "
        "workload, no warm-up, 1 worker, 4 users, METRICS compared once, quick later stages",
    )
    parser.add_argument(
        "--python-loadgen",
        action="store_true",
        help="use the Python load generator even if wrk is installed",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.workers, args.users = 1, 0, "1", 4
    unknown = set(args.workloads.split(",")) - set(ORDER)
    if unknown:
        parser.error(f"no such workload: {', '.join(sorted(unknown))}")
    args.stages = [s for s in args.stages.split(",") if s]
    unknown = set(args.stages) - {name for name, _ in LATER_STAGES}
    if unknown:
        parser.error(f"no such stage: {', '.join(sorted(unknown))}")
    if "replicas" in args.stages:
        try:
            replicas.require_nginx()
        except replicas.BalancerMissing as exc:
            parser.exit(2, f"{exc} (or leave the replica check out: --stages sizes)\n")
    return args


def main() -> int:
    args = parse_arguments()
    workloads = [w for w in ORDER if w in args.workloads.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="todo-api-bench-"))
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    rows: list[Figures] = []
    contention: dict[str, Any] = {}
    cost: dict[str, Any] = {}
    idle: dict[str, Any] = {}
    time_fields: dict[str, Any] = {}
    stages: dict[str, Any] = {}
    broken: list[str] = []
    with (
        throwaway_server(configured, folder) as server_url,
        fresh_database(server_url, "todo_bench") as url,
    ):
        apply_migrations(url)
        users = seed(url, args.users, TASKS_PER_USER)
        wrk = None if args.python_loadgen else shutil.which("wrk")
        bench = Bench(url, users, folder, args, wrk)
        print(f"load generator: {wrk or 'python (bench/loadgen.py)'}", flush=True)
        app_env = {
            "DATABASE_URL": url,
            "JWT_SECRET": SECRET,
            "MIGRATE_ON_START": "false",
            "BCRYPT_ROUNDS": "12",  # the default, which testing.Server lowers for the tests
        }
        # A load run that breaks (the server refused a connection, a process died) ends the
        # measuring, not the report: what was measured is still printed and kept.
        try:
            for workers in [int(w) for w in args.workers.split(",")]:
                floor_env = {"DATABASE_URL": url, "JWT_SECRET": SECRET}
                with (
                    serving(app_command(workers), app_env) as app,
                    serving(floor_command(workers), floor_env) as floor,
                    serving(floor_command(workers, plain=True), floor_env) as plain_floor,
                ):
                    for workload in workloads:
                        targets = [
                            (name, server)
                            for name, server in (("plain", plain_floor), ("floor", floor))
                            if name in WORKLOADS[workload].floors
                        ]
                        for _, server in [*targets, ("todo-api", app)]:
                            bench.probe(server, workload)
                        # Logins are measured with 8 clients, as the target for them says.
                        connections = LOGIN_CLIENTS if workload == "login" else None
                        for target, server in targets:
                            rows.append(bench.measure(server, target, workload, workers))
                        rows.append(bench.measure(app, "todo-api", workload, workers, connections))
                        done = f"{rows[-1].requests_per_s:,.0f} req/s"
                        print(f"  {workers} worker(s) {workload}: {done}", flush=True)
                    if workers == 1 and "login" in workloads:
                        contention = login_contention(bench, app)
                if workers == 1:
                    measured = [w for w in METRICS_WORKLOADS if w in workloads]
                    cost = metrics_cost(bench, app_env, measured) if measured else {}
                    measured = [w for w in IDLE_STREAM_WORKLOADS if w in workloads]
                    idle = idle_streams_cost(bench, app_env, measured) if measured else {}
                    pairs = {a: b for a, b in TIME_PAIRS.items() if {a, b} <= set(workloads)}
                    time_fields = time_fields_cost(bench, app_env, pairs) if pairs else {}
        except Exception as exc:
            broken.append(f"the load runs stopped: {type(exc).__name__}: {exc}")
            print(f"FAILED: {broken[-1]}", file=sys.stderr, flush=True)
        for name, stage in LATER_STAGES:
            if name in args.stages and not broken:
                print(f"stage {name}:", flush=True)
                stages[name] = stage(server_url, folder, args.quick)

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
    if cost:
        print("\nMETRICS=on against METRICS=off, 1 worker, each on a fresh server:\n")
        print(metrics_table(cost))
    if idle:
        print(
            f"\nWith {idle['streams_each']} event streams open for each of"
            f" {idle['streams'] // idle['streams_each']} users ({idle['streams']}) against none, 1"
            " worker, one server: idle streams (their users write nothing meanwhile) and live"
            " ones (the seeded users', who write: each of their writes goes out to"
            f" {idle['streams_each']} streams); reading them took"
            f" {idle['reader_cpu_share']:.0%} of a core of this machine meanwhile:\n"
        )
        print(idle_streams_table(idle))
    if time_fields:
        print(
            "\nThe time fields against their twins without them, 1 worker, one server, in turn"
            f" ({1 if args.quick else TIME_ROUNDS} round(s)):\n"
        )
        print(time_fields_table(time_fields))
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
        "metrics_cost": cost,
        "idle_streams": idle,
        "time_fields": time_fields,
        "stages": stages,
    }
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nresults: {out.relative_to(ROOT)}")
    shutil.rmtree(folder, ignore_errors=True)
    failed = failures(rows) + [f"stage {name} failed" for name, s in stages.items() if not s["ok"]]
    failed += broken
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
