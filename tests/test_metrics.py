"""GET /metrics as docs/api.md, "Platform", says: Prometheus text; requests by method,
route template and status, durations, pool and hashing-slot gauges, failed and throttled logins;
never an id in a label; 404 with METRICS=off. Under `todo-api serve` with several workers a
scrape sums them all, whichever worker answers it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp

from tests.conftest import TEST_SECRET, User, assert_problem, client_for, create_task, running
from tests.test_login_throttling import LIMIT, from_address, log_in, throttled_app  # noqa: F401
from todo_api.app import create_app, routes
from todo_api.metrics import UNMATCHED, forget_dead_workers
from todo_api.settings import Settings
from todo_api.testing import Server

pytestmark = pytest.mark.anyio

TASK = "/api/{user_id}/tasks/{task_id}"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parsed(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parsed(r.text)


def requests_of(samples: Samples, method: str, route: str, status: int) -> float:
    return value(samples, "todo_api_requests_total", method=method, route=route, status=str(status))


@pytest.mark.in_process  # one process's figures: behind a balancer each replica has its own
async def test_task_requests_are_counted_by_route_template_method_and_status(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user)
    before = await scrape(client)
    for _ in range(2):
        assert (await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)).is_success
    missing = await client.get(f"{user.tasks}/{task['id'] + 1000}", headers=user.headers)
    assert missing.status_code == 404
    created = await client.post(user.tasks, json={"title": "b"}, headers=user.headers)
    assert created.status_code == 201
    after = await scrape(client)
    assert requests_of(after, "GET", TASK, 200) - requests_of(before, "GET", TASK, 200) == 2
    assert requests_of(after, "GET", TASK, 404) - requests_of(before, "GET", TASK, 404) == 1
    collection = "/api/{user_id}/tasks"
    grew = requests_of(after, "POST", collection, 201) - requests_of(
        before, "POST", collection, 201
    )
    assert grew == 1
    durations = "todo_api_request_duration_seconds_count"
    observed = value(after, durations, method="GET", route=TASK) - value(
        before, durations, method="GET", route=TASK
    )
    assert observed == 3
    slowest = value(
        after, "todo_api_request_duration_seconds_bucket", method="GET", route=TASK, le="+Inf"
    )
    assert slowest == value(after, durations, method="GET", route=TASK)


async def test_no_label_holds_a_raw_path_or_an_id(
    app: ASGIApp, client: httpx.AsyncClient, user: User, settings: Settings
) -> None:
    task = await create_task(client, user)
    await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
    await client.put(f"{user.tasks}/{task['id']}", json={"title": "c"}, headers=user.headers)
    await client.get(f"/api/{user.id}/tasks/not-a-number", headers=user.headers)
    await client.get(f"/api/auth/sessions/{uuid.uuid4()}", headers=user.headers)
    r = await client.get("/metrics")
    templates = {getattr(route, "path_format", None) for route in routes(settings)}
    routes_seen = set()
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            for name, label in sample.labels.items():
                assert user.id not in label and str(task["id"]) not in label.split("/"), sample
                if name == "route":
                    routes_seen.add(label)
    assert TASK in routes_seen
    assert routes_seen <= templates | {UNMATCHED}
    assert user.id not in r.text


@pytest.mark.in_process  # one process's figures: behind a balancer each replica has its own
async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    scanned = [f"/wp-admin/{uuid.uuid4().hex}.php", f"/api/{uuid.uuid4().hex}/secrets"]
    before = await scrape(client)
    for path in scanned:
        assert_problem(await client.get(path), 404)
    r = await client.get("/metrics")
    after = parsed(r.text)
    assert (
        requests_of(after, "GET", UNMATCHED, 404) - requests_of(before, "GET", UNMATCHED, 404) == 2
    )
    for path in scanned:
        assert path.split("/")[2] not in r.text


async def test_failed_and_throttled_logins_are_counted_once_each(
    throttled_app: ASGIApp,  # noqa: F811 - the fixture
) -> None:
    async with from_address(throttled_app, f"10.20.{os.getpid() % 250}.1") as client:
        user = await register_for_metrics(client)
        before = await scrape(client)
        for _ in range(LIMIT):
            assert_problem(await log_in(client, "wrong password", email=user), 401)
        middle = await scrape(client)
        for password in ("wrong password", "right password"):
            assert_problem(await log_in(client, password, email=user), 429)
        after = await scrape(client)
    failed, throttled = "todo_api_logins_failed_total", "todo_api_logins_throttled_total"
    assert value(middle, failed) - value(before, failed) == LIMIT
    assert value(middle, throttled) == value(before, throttled)
    assert value(after, failed) == value(middle, failed)
    assert value(after, throttled) - value(middle, throttled) == 2


async def register_for_metrics(client: httpx.AsyncClient) -> str:
    email = f"m{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": "right password"}
    assert (await client.post("/api/auth/register", json=body)).status_code == 201
    return email


@pytest.fixture
async def one_connection_app(settings: Settings) -> AsyncIterator[ASGIApp]:
    small = settings.model_copy(update={"db_pool_min": 1, "db_pool_max": 1})
    async with running(create_app(small)) as app:
        yield app


async def test_pool_gauges_show_connections_in_use_and_requests_waiting(
    one_connection_app: ASGIApp,
) -> None:
    db = one_connection_app.app.state.services.db  # type: ignore[attr-defined]
    release = asyncio.Event()

    async def hold_the_connection() -> None:
        async with db.transaction():
            await release.wait()

    async with client_for(one_connection_app) as client:
        idle = await scrape(client)
        assert value(idle, "todo_api_db_pool_max_connections") == 1
        assert value(idle, "todo_api_db_pool_connections") == 1
        assert value(idle, "todo_api_db_pool_idle_connections") == 1
        assert value(idle, "todo_api_db_pool_waiting_requests") == 0
        holder = asyncio.create_task(hold_the_connection())
        waiter = asyncio.create_task(client.get("/ready"))
        while db.waiting == 0:  # noqa: ASYNC110 - a plain count, nothing to wait on
            await asyncio.sleep(0.01)
        busy = await scrape(client)  # needs no connection itself
        release.set()
        await holder
        assert (await waiter).status_code == 200
        done = await scrape(client)
    assert value(busy, "todo_api_db_pool_idle_connections") == 0
    assert value(busy, "todo_api_db_pool_waiting_requests") == 1
    assert value(done, "todo_api_db_pool_idle_connections") == 1
    assert value(done, "todo_api_db_pool_waiting_requests") == 0


@pytest.mark.in_process  # holds a slot of the in-process app's hasher
async def test_hashing_slots_in_use_are_shown(app: ASGIApp, client: httpx.AsyncClient) -> None:
    hasher = app.app.state.services.hasher  # type: ignore[attr-defined]
    busy = threading.Event()
    release = threading.Event()

    def hold(*_: bytes) -> bool:
        busy.set()
        return release.wait(30)

    holding = asyncio.create_task(hasher._run(hold))
    assert await asyncio.to_thread(busy.wait, 30)
    during = await scrape(client)
    release.set()
    await holding
    after = await scrape(client)
    assert value(during, "todo_api_password_hashing_slots") == 2  # BCRYPT_CONCURRENCY
    assert value(during, "todo_api_password_hashing_slots_in_use") == 1
    assert value(after, "todo_api_password_hashing_slots_in_use") == 0


async def test_metrics_off_is_an_unknown_path(settings: Settings) -> None:
    off = settings.model_copy(update={"metrics": False})
    async with running(create_app(off)) as app, client_for(app) as client:
        assert_problem(await client.get("/metrics"), 404)
        document = (await client.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]


def test_the_cli_imports_no_metrics_before_it_sets_their_folder() -> None:
    """prometheus_client picks in-process or multiprocess values when first imported: the
    serve command must set PROMETHEUS_MULTIPROC_DIR first (the one-worker server imports the
    app in the CLI's own process)."""
    probe = "import sys, todo_api.cli; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_dead_workers_gauges_are_forgotten_and_a_live_ones_kept(tmp_path: Path) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    for pid in (ended.pid, os.getpid()):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    forget_dead_workers(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{ended.pid}.db", f"counter_{os.getpid()}.db", f"gauge_livesum_{os.getpid()}.db"]
    )


def stale_count(folder: Path, route: str) -> None:
    """A previous run's counter file, as a worker of it would have left it."""
    folder.mkdir()
    stale = MmapedDict(str(folder / "counter_1.db"))
    labels = ["method", "route", "status"]
    key = mmap_key(
        "todo_api_requests",
        "todo_api_requests_total",
        labels,
        ["GET", route, "200"],
        "Requests answered, by method, route template and status.",
    )
    stale.write_value(key, 1000.0, 0.0)
    stale.close()


def fresh_get(url: str, token: str) -> httpx.Response:
    """On a new connection each time, so either worker may answer."""
    with httpx.Client() as fresh:
        return fresh.get(url, headers={"Authorization": f"Bearer {token}"})


def worker_of(response: httpx.Response) -> str:
    """Generated request ids begin with a random prefix of their process's."""
    return response.headers["x-request-id"][:16]


def scrape_server(base: str) -> tuple[Samples, str]:
    with httpx.Client() as fresh:
        r = fresh.get(f"{base}/metrics")
    assert r.status_code == 200, r.text
    return parsed(r.text), worker_of(r)


def test_two_workers_are_summed_whichever_answers_the_scrape(
    database_url: str, serve: Callable[..., Server], tmp_path: Path
) -> None:
    folder = tmp_path / "metrics"
    stale_count(folder, TASK)
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "WEB_CONCURRENCY": "2",
        "BCRYPT_CONCURRENCY": "3",
        "DB_POOL_MAX": "4",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "LOG_LEVEL": "warning",
    }
    server = serve(env)
    assert not (folder / "counter_1.db").exists()  # emptied at start
    body = {"email": f"w{uuid.uuid4().hex[:10]}@example.com", "password": "password1"}
    r = httpx.post(f"{server.base}/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    user_id, token = r.json()["user"]["id"], r.json()["access_token"]
    task = httpx.post(
        f"{server.base}/api/{user_id}/tasks",
        json={"title": "counted"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    url = f"{server.base}/api/{user_id}/tasks/{task['id']}"
    workers: set[str] = set()
    made = 0
    while len(workers) < 2 or made < 20:
        assert made < 400, "one worker answered every fresh connection"
        answer = fresh_get(url, token)
        assert answer.status_code == 200
        workers.add(worker_of(answer))
        made += 1
    # Each worker writes its counts once a second (and when it answers a scrape).
    deadline = time.monotonic() + 30
    while (counted := requests_of(scrape_server(server.base)[0], "GET", TASK, 200)) < made:
        assert time.monotonic() < deadline, f"{counted} of {made} requests counted"
        time.sleep(0.2)
    scrapers = set()
    for _ in range(12):
        samples, scraper = scrape_server(server.base)
        scrapers.add(scraper)
        assert requests_of(samples, "GET", TASK, 200) == made
        assert (
            value(samples, "todo_api_request_duration_seconds_count", method="GET", route=TASK)
            == made
        )
        assert value(samples, "todo_api_password_hashing_slots") == 2 * 3
        assert value(samples, "todo_api_db_pool_max_connections") == 2 * 4
        assert user_id not in str(samples)
    assert scrapers <= workers

    # A worker killed outright: uvicorn starts another; the dead one's gauges go, its counts stay.
    killed = int(next(folder.glob("gauge_livesum_*.db")).name.split("_")[2].removesuffix(".db"))
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        samples, _ = scrape_server(server.base)
        pids = {p.name.split("_")[2].removesuffix(".db") for p in folder.glob("gauge_livesum_*.db")}
        summed = value(samples, "todo_api_password_hashing_slots")
        # The new worker's gauges are in once it has sampled; the dead one's stay unless swept.
        if str(killed) not in pids and summed == 2 * 3:
            break
        assert time.monotonic() < deadline, f"the dead worker's gauges stayed: {pids}, {summed}"
        time.sleep(0.2)
    assert len(pids) == 2
    assert requests_of(samples, "GET", TASK, 200) == made

    assert server.terminate() == 0
    assert not list(folder.glob("gauge_live*.db"))  # each worker took its gauges at exit
    assert list(folder.glob("counter_*.db"))  # the counts stay until the next start


def test_one_worker_uses_a_private_folder_removed_at_exit(
    database_url: str, serve: Callable[..., Server]
) -> None:
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "LOG_LEVEL": "warning"}
    server = serve(env)
    for _ in range(3):
        assert httpx.get(f"{server.base}/ready").status_code == 200
    samples, _ = scrape_server(server.base)
    assert requests_of(samples, "GET", "/ready", 200) == 3
    files = [Path(f.path) for f in psutil.Process(server.proc.pid).open_files()]
    folders = {
        f.parent
        for f in files
        if f.suffix == ".db" and f.parent.name.startswith("todo-api-metrics-")
    }
    assert len(folders) == 1
    folder = folders.pop()
    assert server.terminate() == 0
    assert not folder.exists()
