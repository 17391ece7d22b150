"""Webhook deliveries per second to a loopback receiver: `python -m bench.webhooks`.

A throwaway database (BENCH_DATABASE_URL's or TEST_DATABASE_URL's server, else an embedded
one), `todo-api serve` with webhooks allowed to reach loopback over http, and a receiver (a
minimal ASGI app under uvicorn, answering 204) in a process of its own. One user with one
webhook; then N tasks are inserted in one statement, so N task.created deliveries enter the
outbox in one commit, and the run times how long the server's workers take to deliver them
all (each a signed POST, its outcome recorded in PostgreSQL). Prints deliveries per second and
the lag from commit to delivery (p50, p99).

`--write-cost`: what the webhook trigger costs a write of a user without webhooks, timed by
PostgreSQL itself (EXPLAIN ANALYZE), beside the whole statement's time."""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.processes import app_command, serving
from todo_api.db.migrations import apply_migrations
from todo_api.testing import TEST_SECRET, fresh_database, throwaway_server


async def receiver_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The receiver: reads the body, answers 204."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def receiver_command() -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bench.webhooks:receiver_app", "--host", "127.0.0.1",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def run(database_url: str, deliveries: int, workers: int) -> dict[str, float]:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "BCRYPT_ROUNDS": "4",
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "LOG_LEVEL": "warning",
    }
    with (
        serving(receiver_command(), {}) as receiver,
        serving(app_command(workers), env) as server,
    ):
        body = {"email": "bench@example.com", "password": "correct horse"}
        login = httpx.post(f"{server.base}/api/auth/register", json=body).json()
        user_id = login["user"]["id"]
        hook = {"url": f"{receiver.base}/hook", "events": ["task.created"]}
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        r = httpx.post(f"{server.base}/api/{user_id}/webhooks", json=hook, headers=headers)
        r.raise_for_status()
        with psycopg.connect(database_url, autocommit=True) as conn:
            started = time.monotonic()
            conn.execute(
                "INSERT INTO tasks (user_id, title)"
                " SELECT %s, 'bench ' || i FROM generate_series(1, %s) AS i",
                (user_id, deliveries),
            )
            while True:
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE status = 'pending'),"
                    " count(*) FILTER (WHERE status = 'failed') FROM webhook_deliveries"
                ).fetchone()
                assert row is not None
                if row[0] == 0:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            assert row[1] == 0, f"{row[1]} deliveries failed"
            lags = [
                r[0]
                for r in conn.execute(
                    "SELECT extract(epoch FROM delivered_at - created_at)::float8"
                    " FROM webhook_deliveries ORDER BY 1"
                ).fetchall()
            ]
    return {
        "deliveries": deliveries,
        "workers": workers,
        "seconds": round(elapsed, 2),
        "per_second": round(deliveries / elapsed, 1),
        "lag_p50_s": round(statistics.median(lags), 2),
        "lag_p99_s": round(lags[int(len(lags) * 0.99) - 1], 2),
    }


WEBHOOK_TRIGGERS = ("tasks_50_webhook_inserted", "tasks_51_webhook_updated")


def write_cost(database_url: str, statements: int = 500) -> dict[str, Any]:
    """What the webhook trigger costs a create and a toggle of a user without webhooks, as
    PostgreSQL times it (EXPLAIN ANALYZE: each trigger's time, and the statement's): the
    median in microseconds over `statements` single-row statements, in one transaction rolled
    back at the end. Timed inside the database, the figure is not drowned by the machine's
    other load as a request rate would be."""
    create = "EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO tasks (user_id, title) VALUES (%s, 'x')"
    toggle = (
        "EXPLAIN (ANALYZE, FORMAT JSON) UPDATE tasks SET completed = NOT completed,"
        " completed_at = CASE WHEN completed THEN NULL ELSE now() END"
        " WHERE id = (SELECT max(id) FROM tasks WHERE user_id = %s)"
    )
    timings: dict[str, list[float]] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO users (email, username, hashed_password)"
            " VALUES ('cost@example.com', 'cost', 'x') RETURNING id"
        ).fetchone()
        assert row is not None
        with contextlib.suppress(Rollback), conn.transaction():
            for _ in range(statements):
                for kind, sql in (("create", create), ("toggle", toggle)):
                    found = conn.execute(sql, (row[0],)).fetchone()
                    assert found is not None
                    plan = found[0][0]
                    triggers = {t["Trigger Name"]: t["Time"] for t in plan["Triggers"]}
                    webhook = sum(triggers.get(name, 0.0) for name in WEBHOOK_TRIGGERS)
                    timings.setdefault(f"{kind}_webhook_trigger_us", []).append(webhook * 1e3)
                    timings.setdefault(f"{kind}_statement_us", []).append(
                        plan["Execution Time"] * 1e3
                    )
            raise Rollback
    return {name: round(statistics.median(values), 1) for name, values in timings.items()}


class Rollback(Exception):
    """Ends the measured transaction without keeping what it wrote."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--write-cost", action="store_true", help="the trigger cost instead")
    args = parser.parse_args()
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    with (
        tempfile.TemporaryDirectory(prefix="bench-webhooks-") as folder,
        throwaway_server(configured, Path(folder)) as server_url,
    ):
        if args.write_cost:
            with fresh_database(server_url, prefix="bench_webhooks") as url:
                apply_migrations(url)
                print(write_cost(url), flush=True)
            return
        for workers in (int(w) for w in args.workers.split(",")):
            with fresh_database(server_url, prefix="bench_webhooks") as url:
                apply_migrations(url)
                print(run(url, args.deliveries, workers), flush=True)


if __name__ == "__main__":
    main()
