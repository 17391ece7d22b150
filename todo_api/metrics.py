"""The service's metrics and their exposition at /metrics (Prometheus text format).

Under `todo-api serve` every worker process writes its figures to files of its own in
PROMETHEUS_MULTIPROC_DIR (the CLI sets it up before any worker starts), and a scrape answered by
any worker sums them all. prometheus_client chooses between that and plain in-process values when
it is first imported, from the environment: so nothing the CLI imports before setting the
variable may import this module (the request-context middleware is handed `record` by app.py
instead). Without the variable (tests in one process) the figures are the process's.

Labels are fixed sets: the method, the matched route's template (`/api/{user_id}/tasks/{task_id}`,
never a path with ids in it, so no user id reaches a label), `unmatched` for a request no route
took (an unknown path, a CORS preflight), and the status."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import glob
import os
from collections.abc import AsyncIterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from todo_api.auth.passwords import PasswordHasher
from todo_api.db.pool import Database
from todo_api.settings import METRICS_DIR_VARIABLE

# Read when prometheus_client is, just above: the two agree on the mode.
MULTIPROCESS_DIR: Final = os.environ.get(METRICS_DIR_VARIABLE) or None
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
UNMATCHED: Final = "unmatched"
# Any other method (httptools accepts WebDAV's and more) is one label, not one each.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD: Final = "other"
# Seconds: most requests take 1-50 ms, a bcrypt login 50-500 ms, a wait for the database up to
# its 3 s timeout.
DURATION_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SAMPLE_SECONDS: Final = 1.0

# Our metrics only: in-process, no process or GC collectors of the default registry.
_REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS: Final = Counter(
    "todo_api_requests",
    "Requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=_REGISTRY,
)
DURATION: Final = Histogram(
    "todo_api_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=DURATION_BUCKETS,
    registry=_REGISTRY,
)
LOGINS_FAILED: Final = Counter(
    "todo_api_logins_failed",
    "Logins refused for a wrong email, username or password.",
    registry=_REGISTRY,
)
LOGINS_THROTTLED: Final = Counter(
    "todo_api_logins_throttled",
    "Logins refused with 429 for too many failures, no password checked.",
    registry=_REGISTRY,
)


def _gauge(name: str, documentation: str) -> Gauge:
    # livesum: summed over the workers running now; a worker's figures leave with it.
    return Gauge(name, documentation, registry=_REGISTRY, multiprocess_mode="livesum")


DB_CONNECTIONS: Final = _gauge("todo_api_db_pool_connections", "Open database connections.")
DB_IDLE: Final = _gauge("todo_api_db_pool_idle_connections", "Open connections not in use.")
DB_MAX: Final = _gauge("todo_api_db_pool_max_connections", "The pools' size limits (DB_POOL_MAX).")
DB_WAITING: Final = _gauge(
    "todo_api_db_pool_waiting_requests", "Requests waiting for a database connection."
)
HASHING_IN_USE: Final = _gauge(
    "todo_api_password_hashing_slots_in_use", "Password hashes being computed now."
)
HASHING_SLOTS: Final = _gauge(
    "todo_api_password_hashing_slots", "Password hashes that may run at once (BCRYPT_CONCURRENCY)."
)


class _Tally:
    """One label set's requests since the last flush, in plain numbers."""

    __slots__ = ("buckets", "count", "counter", "histogram", "seconds")

    def __init__(self, method: str, route: str, status: int) -> None:
        method = method if method in METHODS else OTHER_METHOD
        self.counter = REQUESTS.labels(method, route, str(status))
        self.histogram = DURATION.labels(method, route)
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # the last: +Inf

    def flush(self) -> None:
        self.counter.inc(self.count)
        # Many observations at once: prometheus_client has no public call for that, so its
        # histogram's own values (one per bucket, not cumulative, and the sum) are added to.
        self.histogram._sum.inc(self.seconds)
        for value, n in zip(self.histogram._buckets, self.buckets, strict=True):
            if n:
                value.inc(n)
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * len(self.buckets)


# By method, route template (or UNMATCHED) and status; lives as long as the process.
_TALLIES: dict[tuple[str, str, int], _Tally] = {}


def record(method: str, route: str | None, status: int, seconds: float) -> None:
    """Count a request and its duration (the request-context middleware calls this for each).

    Kept in plain numbers, written to prometheus_client's values by `flush` every
    SAMPLE_SECONDS and at each scrape: under `todo-api serve` each value written is an mmap
    write under a lock with a getpid call (about 1 µs), and a request would write three (the
    counter, the histogram's sum and a bucket), several percent of a fast request's CPU as
    measured; this is a dictionary look-up and three additions. A scrape flushes the worker
    answering it; the other workers' figures are at most SAMPLE_SECONDS old."""
    key = (method, route or UNMATCHED, status)
    tally = _TALLIES.get(key)
    if tally is None:
        tally = _TALLIES[key] = _Tally(*key)
    tally.count += 1
    tally.seconds += seconds
    tally.buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1


def flush() -> None:
    """Write the requests recorded since the last flush to prometheus_client's values."""
    for tally in _TALLIES.values():
        if tally.count:
            tally.flush()


def sample(db: Database, hasher: PasswordHasher) -> None:
    """This process's pool and hashing slots, into the gauges."""
    DB_CONNECTIONS.set(db.pool.get_size())
    DB_IDLE.set(db.pool.get_idle_size())
    DB_MAX.set(db.pool.get_max_size())
    DB_WAITING.set(db.waiting)
    HASHING_IN_USE.set(hasher.in_use)
    HASHING_SLOTS.set(hasher.slots)


@contextlib.asynccontextmanager
async def publishing(db: Database, hasher: PasswordHasher) -> AsyncIterator[None]:
    """For a worker's life: its gauges and request counts kept current for scrapes any worker
    answers (`sample`, `flush`); at its stop, its last counts written and its gauges taken away.

    Sampled every SAMPLE_SECONDS rather than updated at each acquire and release: that would be
    two more mmap writes on every request (about 1 percent of a fast one), where sampling costs
    six writes a second whatever the load. A gauge is a reading at one moment either way; the
    worker answering a scrape samples itself first. In one process (no PROMETHEUS_MULTIPROC_DIR)
    the scrape's own sample is all there is, so nothing runs."""
    directory = MULTIPROCESS_DIR
    if directory is None:
        yield
        return

    async def keep_sampling() -> None:
        while True:
            sample(db, hasher)
            flush()
            await asyncio.sleep(SAMPLE_SECONDS)

    sampler = asyncio.create_task(keep_sampling())
    try:
        yield
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        flush()  # its last requests' counts stay after it
        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def forget_dead_workers(directory: str) -> None:
    """Take away the gauges of workers that ended without saying so (killed, out of memory):
    uvicorn starts another in their place, and theirs would be summed with it forever. Their
    counters stay: what they counted happened."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = os.path.basename(path).rsplit("_", 1)[1].removesuffix(".db")
        if not pid.isdigit():
            continue  # not a file prometheus_client wrote
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, as another user


def _merged_registry(directory: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    # Reads every worker's files at each scrape.
    MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return registry


_EXPOSED: Final = _REGISTRY if MULTIPROCESS_DIR is None else _merged_registry(MULTIPROCESS_DIR)


def exposition(db: Database, hasher: PasswordHasher) -> bytes:
    """The text a scrape gets: every worker's figures, summed (CONTENT_TYPE)."""
    sample(db, hasher)
    flush()
    if MULTIPROCESS_DIR is not None:
        forget_dead_workers(MULTIPROCESS_DIR)
    return generate_latest(_EXPOSED)
