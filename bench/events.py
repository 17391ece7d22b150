"""The event streams and reminders benchmark: `python -m bench.events [--quick] [--workers N]`.

On a fresh database and one `todo-api serve` (2 workers by default), it measures:
- the RSS of each worker with no stream open, then with 1,000 open (10 for each of 100 users);
- how long a change takes to reach each open stream of its user: a writer creates tasks at a
  steady pace for random users, and every stream of that user notes when the task's event
  arrives; the time counts from the moment the create request was sent (so it includes the
  request itself: an upper bound of commit-to-receipt), p50 and p99 over every stream;
- what the open streams cost a user without any: their create latency (sequential, p50) with
  no stream open, with the 1,000 open, and with none again (the machine's own drift);
- reminders fired per second when 10,000 fall due at the same instant, and how late the last
  one fired.
The streams are read by raw asyncio connections (one per stream, HTTP/1.1 with the `Authorization`
header, as an app's fetch-based reader does), so 1,000 of them cost the benchmark little.
`run(server_url, folder, quick)` is what `python -m bench` calls; `idle_streams` is what its
workload pass uses to run the task workloads with and without streams open (bench/__main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

import asyncpg
import httpx

from bench.processes import serving_pids
from todo_api.db.migrations import apply_migrations
from todo_api.testing import TEST_SECRET, TODO_API, Server, fresh_database, throwaway_server


class Mode(TypedDict):
    """How much a run does: users with streams_each streams, writes at write_rate a second, and
    reminders falling due at once."""

    users: int
    streams_each: int
    writes: int
    write_rate: float
    reminders: int


FULL: Mode = {
    "users": 100,
    "streams_each": 10,
    "writes": 400,
    "write_rate": 20.0,
    "reminders": 10_000,
}
QUICK: Mode = {
    "users": 10,
    "streams_each": 10,
    "writes": 40,
    "write_rate": 20.0,
    "reminders": 1_000,
}
WORKER_MIN_MB = 30  # smaller: a helper process of uvicorn's (its multiprocessing tracker)
_MARK = re.compile(rb'"title":"lat-(\d+)"')
# What a server needs to hold many streams from the benchmark's one address.
MANY_STREAMS = {"LIMIT_CONCURRENCY": "5000", "MAX_CONNECTIONS_PER_ADDRESS": "5000"}


def rss_mb(server: Server) -> list[float]:
    """The resident set of each worker (uvicorn's; the supervisor serves nothing)."""
    import psutil

    sizes = [psutil.Process(pid).memory_info().rss / 2**20 for pid in serving_pids(server)]
    return [round(size, 1) for size in sizes if size > WORKER_MIN_MB]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Reader:
    """One stream on a raw connection; notes when each marked task's event arrives."""

    def __init__(self, port: int, user_id: str, token: str, seen: dict[int, list[float]]) -> None:
        self.port = port
        self.user_id = user_id
        self.token = token
        self.seen = seen
        self.opened = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def run(self) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"GET /api/{self.user_id}/events HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await self.writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"a stream was refused: {head[:200]!r}")
        self.opened.set()
        pending = b""
        while chunk := await reader.read(65536):
            now = time.perf_counter()
            pending += chunk
            for match in _MARK.finditer(pending):
                self.seen.setdefault(int(match[1]), []).append(now)
            pending = pending[-64:]  # a mark cut in two by a read is found in the next

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class IdleStreams:
    """Streams held open by `idle_streams`: how many, and the CPU time their reading took (the
    benchmark's own, on the same machine as the server: a share of what the workloads lose)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.loop = loop
        self.count = count

    def cpu_seconds(self) -> float:
        """The CPU time of the thread reading the streams, so far."""

        async def thread_time() -> float:
            return time.thread_time()

        return asyncio.run_coroutine_threadsafe(thread_time(), self.loop).result()


@contextlib.contextmanager
def idle_streams(server: Server, users: list[tuple[str, str]], each: int) -> Iterator[IdleStreams]:
    """`each` streams open for every (user id, token) while the block runs, read in a thread of
    their own (what arrives, the events of the users' own writes and the pings, is thrown away,
    as an app would apply it). The server needs MANY_STREAMS and at least `each` for
    EVENTS_MAX_STREAMS."""
    loop = asyncio.new_event_loop()
    readers = [Reader(server.port, u, t, {}) for u, t in users for _ in range(each)]
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.extend(asyncio.create_task(r.run()) for r in readers)
        async with asyncio.timeout(60):
            while not all(r.opened.is_set() for r in readers):
                for task in tasks:
                    if task.done():
                        task.result()  # a refused stream: raised here
                        raise RuntimeError("a stream ended as it opened")
                await asyncio.sleep(0.05)

    async def stop() -> None:
        for reader in readers:
            reader.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result()
        yield IdleStreams(loop, len(readers))
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def register(http: httpx.AsyncClient, n: int) -> tuple[str, str]:
    body = {"email": f"ev{n}@example.com", "username": f"ev{n}", "password": "bench-password"}
    r = await http.post("/api/auth/register", json=body)
    r.raise_for_status()
    return r.json()["user"]["id"], r.json()["access_token"]


async def create_latency_ms(http: httpx.AsyncClient, user: tuple[str, str], n: int) -> float:
    """The median of n sequential creates."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = await http.post(
            f"/api/{user[0]}/tasks",
            json={"title": "plain"},
            headers={"Authorization": f"Bearer {user[1]}"},
        )
        r.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure_streams(server: Server, mode: Mode) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=server.base, timeout=60, limits=limits) as http:
        users = [await register(http, n) for n in range(mode["users"])]
        quiet = await register(http, len(users))  # a user without streams, who writes
        await asyncio.sleep(1)
        figures["rss_mb_no_streams"] = rss_mb(server)
        figures["create_p50_ms_no_streams"] = round(await create_latency_ms(http, quiet, 300), 2)
        seen: dict[int, list[float]] = {}
        readers = [
            Reader(server.port, user_id, token, seen)
            for user_id, token in users
            for _ in range(mode["streams_each"])
        ]
        tasks = [asyncio.create_task(r.run()) for r in readers]
        async with asyncio.timeout(120):
            await asyncio.gather(*(r.opened.wait() for r in readers))
        figures["streams"] = len(readers)
        await asyncio.sleep(2)
        figures["rss_mb_with_streams"] = rss_mb(server)
        figures["create_p50_ms_with_streams"] = round(await create_latency_ms(http, quiet, 300), 2)
        sent: dict[int, float] = {}
        rng = random.Random(7)
        interval = 1 / mode["write_rate"]
        for mark in range(mode["writes"]):
            user_id, token = rng.choice(users)
            sent[mark] = time.perf_counter()
            r = await http.post(
                f"/api/{user_id}/tasks",
                json={"title": f"lat-{mark}"},
                headers={"Authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            await asyncio.sleep(max(0.0, sent[mark] + interval - time.perf_counter()))
        await asyncio.sleep(3)
        for reader in readers:
            reader.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(1)
        # Again without streams: the two figures before tell the machine's noise from a cost.
        figures["create_p50_ms_after_streams"] = round(await create_latency_ms(http, quiet, 300), 2)
    latencies = [(t - sent[mark]) * 1000 for mark, times in seen.items() for t in times]
    expected = mode["writes"] * mode["streams_each"]
    figures["events_expected"] = expected
    figures["events_received"] = len(latencies)
    figures["latency_p50_ms"] = round(percentile(latencies, 50), 1)
    figures["latency_p99_ms"] = round(percentile(latencies, 99), 1)
    figures["latency_max_ms"] = round(max(latencies), 1)
    return figures


async def measure_reminders(url: str, count: int) -> dict[str, Any]:
    """`count` reminders due at one instant, 5 s from now, on the users' tasks; how fast they
    fire. Written directly (the columns `time` keeps), as the tests do."""
    db = await asyncpg.connect(url)
    try:
        users = [r["id"] for r in await db.fetch("SELECT id FROM users")]
        instant = await db.fetchval("SELECT now()") + timedelta(seconds=5)
        stamp = instant.isoformat().replace("+00:00", "Z")
        await db.execute(
            """INSERT INTO tasks (user_id, title, reminders, next_reminder_at)
               SELECT ($1::text[])[1 + n % cardinality($1::text[])], 'reminder ' || n,
                      jsonb_build_array(jsonb_build_object('at', $3::text, 'fires_at', $3::text)),
                      $2
               FROM generate_series(1, $4) AS n""",
            users,
            instant,
            stamp,
            count,
        )
        total = count
        deadline = time.monotonic() + 120
        all_fired_at = None
        while time.monotonic() < deadline:
            counted = await db.fetchrow("SELECT count(*), now() FROM reminder_events")
            assert counted is not None
            fired, now = counted
            if fired >= total:
                all_fired_at = now
                break
            await asyncio.sleep(0.05)
        row = await db.fetchrow(
            """SELECT count(*) AS fired, count(DISTINCT (task_id, fires_at)) AS distinct_fired,
                      min(recorded_at) AS first
               FROM reminder_events"""
        )
        assert row is not None
        early = await db.fetchval(
            "SELECT count(*) FROM reminder_events WHERE recorded_at < fires_at"
        )
    finally:
        await db.close()
    span = ((all_fired_at or instant) - instant).total_seconds()
    working = ((all_fired_at or row["first"]) - row["first"]).total_seconds()
    return {
        "reminders_due": total,
        "reminders_fired": row["fired"],
        "fired_twice": row["fired"] - row["distinct_fired"],
        "fired_early": early,
        # Seen by a poll every 50 ms: each figure is late by up to that.
        "first_fired_after_s": round((row["first"] - instant).total_seconds(), 2),
        "all_fired_after_s": round(span, 2),
        "reminders_per_s": round(total / max(working, 0.05)),
    }


def run(server_url: str, folder: Path, quick: bool, workers: int = 2) -> dict[str, Any]:
    mode = QUICK if quick else FULL
    with fresh_database(server_url, "todo_events") as url:
        apply_migrations(url)
        env = {
            "DATABASE_URL": url,
            "JWT_SECRET": TEST_SECRET,
            "MIGRATE_ON_START": "false",
            "BCRYPT_ROUNDS": "4",
            "LOG_LEVEL": "warning",
            "EVENTS_MAX_STREAMS": str(mode["streams_each"]),
            **MANY_STREAMS,  # 1,000 streams from one address on one worker
        }
        server = Server([*TODO_API, "--workers", str(workers)], env)
        try:
            server.wait_until_up()
            figures = asyncio.run(measure_streams(server, mode))
            figures.update(asyncio.run(measure_reminders(url, mode["reminders"])))
        finally:
            server.kill()
            (folder / "events-server.log").write_text(server.output)
    figures["workers"] = workers
    figures["ok"] = (
        figures["events_received"] == figures["events_expected"]
        and figures["fired_twice"] == 0
        and figures["fired_early"] == 0
        and figures["reminders_fired"] == figures["reminders_due"]
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 users, 1,000 reminders")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    with (
        tempfile.TemporaryDirectory(prefix="todo-bench-events-") as folder,
        throwaway_server(configured, Path(folder)) as server_url,
    ):
        figures = run(server_url, Path(folder), args.quick, args.workers)
    print(json.dumps(figures, indent=2, default=str))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
