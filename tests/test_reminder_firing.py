"""Reminders fire exactly once, against real server processes: at their instant and not before,
as a `reminder` event on the open streams of their user (no id), never for completed or deleted
tasks, one after another for a task with several, with two workers and two replicas on one
database, and when a process is killed (SIGKILL) in the middle of a firing.

Reminders are set through the API (`at` reminders); the tests with hundreds of them write the
column `time` keeps them in (`reminders`, whose trigger sets `next_reminder_at`) directly.

In remote mode (`python -m bench.replicas`) the clients go through the balancer and the replicas'
own firing loops fire (three processes racing for each reminder); the multi-process tests use
the replicas by their addresses, and those that kill a process start and kill their own beside
the replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import psutil
import pytest

from tests.conftest import PREPARED_STATEMENTS, User, create_task, register
from tests.sse import Event, Stream, open_stream
from tests.test_events import events_url, one_worker_or_balancer, server_env
from tests.test_replicas import (
    REPLICA_URLS,
    kill_and_await_restart,
    listening_on,
    needs_replicas,
    replica_pid,
)
from tests.test_webhooks import add_webhook, deliveries
from tests.webhook_receiver import receiving
from todo_api.testing import TODO_API, Server

pytestmark = pytest.mark.anyio


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def db_now(db: asyncpg.Connection) -> datetime:
    now: datetime = await db.fetchval("SELECT now()")
    return now


async def set_reminders(
    http: httpx.AsyncClient, user: User, task_id: int, fires: Sequence[datetime]
) -> None:
    """Reminders at these instants, set through the API (`at` reminders)."""
    body = {"reminders": [{"at": rfc3339(f)} for f in fires]}
    r = await http.put(f"{user.tasks}/{task_id}", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    assert sorted(x["fires_at"] for x in r.json()["reminders"]) == sorted(map(rfc3339, fires))


async def next_reminder(stream: Stream, wait: float = 20) -> Event | None:
    """The next `reminder` event (the task events of the writes that set it skipped)."""
    while True:
        event = await stream.next_event(wait=wait)
        if event is None or event.event == "reminder":
            return event


async def fired(db: asyncpg.Connection, task_ids: Sequence[int]) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT task_id, fires_at, recorded_at FROM reminder_events"
            " WHERE task_id = ANY($1::bigint[]) ORDER BY task_id, fires_at",
            list(task_ids),
        )
    )


async def wait_until(check: Any, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{check.__name__} did not come true within {seconds} s")


def start(database_url: str, *args: str) -> Server:
    server = Server([*TODO_API, *args], server_env(database_url))
    server.wait_until_up()
    return server


@pytest.fixture(scope="module")
def service(database_url: str) -> Iterator[str]:
    with one_worker_or_balancer(database_url) as base:
        yield base


@pytest.fixture
async def http(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=30) as client:
        yield client


async def test_a_reminder_fires_once_at_its_instant_as_an_event_without_id(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(http)
    task = await create_task(http, user, title="call mum")
    async with open_stream(http, events_url(user), user.headers) as stream:
        instant = (await db_now(db)) + timedelta(seconds=1.5)
        await set_reminders(http, user, task["id"], [instant])
        event = await next_reminder(stream)
        assert event is not None and event.event == "reminder" and event.id is None
        assert event.json["fires_at"] == rfc3339(instant)
        assert event.json["task"]["id"] == task["id"]
        assert event.json["task"]["title"] == "call mum"
    await asyncio.sleep(2)  # more looks: none fires it again
    rows = await fired(db, [task["id"]])
    assert len(rows) == 1
    # Not before its instant (the firing transaction started at or after it), and within 5 s.
    assert instant <= rows[0]["recorded_at"] <= instant + timedelta(seconds=5)
    assert await db.fetchval("SELECT next_reminder_at FROM tasks WHERE id = $1", task["id"]) is None


async def test_a_tasks_reminders_fire_one_after_another_and_for_each_occurrence(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(http)
    task = await create_task(http, user)
    now = await db_now(db)
    first, second = now + timedelta(seconds=1), now + timedelta(seconds=2)
    await set_reminders(http, user, task["id"], [second, first])

    async def both() -> bool:
        return len(await fired(db, [task["id"]])) == 2

    await wait_until(both)
    # A recurring task's next occurrence brings its reminders again (as `time`'s
    # advance sets them): they fire too.
    third = (await db_now(db)) + timedelta(seconds=1)
    await set_reminders(http, user, task["id"], [third])

    async def three() -> bool:
        return len(await fired(db, [task["id"]])) == 3

    await wait_until(three)
    assert [r["fires_at"] for r in await fired(db, [task["id"]])] == [first, second, third]


@pytest.mark.once  # up to a minute's wait; the firing's statements run in the tests around it
async def test_a_recurring_tasks_before_reminder_fires_for_the_occurrence_it_advanced_to(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Across real advances (completions) of a daily task: the reminder of the occurrence it
    advanced to fires once at its instant, as that occurrence's; the one before it, already
    past when it was set, never; and after the next advance, the fired one never again. A
    `before` reminder falls on a whole minute (due times are minutes): the test waits for the
    next minute at least 4 s away."""
    user = await register(http)
    now = await db_now(db)
    soon = now + timedelta(seconds=4)
    instant = soon.replace(second=0, microsecond=0)
    if instant < soon:
        instant += timedelta(minutes=1)
    yesterday = instant - timedelta(days=1)
    task = await create_task(
        http,
        user,
        title="daily",
        due_date=yesterday.date().isoformat(),
        due_time=yesterday.strftime("%H:%M"),
        recurrence="FREQ=DAILY",
        reminders=[{"before": 0}],
    )
    assert task["occurrence"] == 1
    assert [r["fires_at"] for r in task["reminders"]] == [rfc3339(yesterday)]
    url = f"{user.tasks}/{task['id']}"
    async with open_stream(http, events_url(user), user.headers) as stream:
        advanced = await http.patch(f"{url}/complete", headers=user.headers)
        assert advanced.status_code == 200, advanced.text
        assert advanced.json()["occurrence"] == 2 and advanced.json()["completed"] is False
        assert [r["fires_at"] for r in advanced.json()["reminders"]] == [rfc3339(instant)]
        event = await next_reminder(stream, wait=(instant - now).total_seconds() + 10)
        assert event is not None
        assert event.json["fires_at"] == rfc3339(instant)
        assert event.json["task"]["id"] == task["id"] and event.json["task"]["occurrence"] == 2
    (row,) = await fired(db, [task["id"]])  # the first occurrence's (past) reminder: never
    assert row["fires_at"] == instant
    assert instant <= row["recorded_at"] <= instant + timedelta(seconds=5)
    again = await http.patch(f"{url}/complete", headers=user.headers)
    assert again.status_code == 200 and again.json()["occurrence"] == 3
    tomorrow = instant + timedelta(days=1)
    assert [r["fires_at"] for r in again.json()["reminders"]] == [rfc3339(tomorrow)]
    stored = await db.fetchval("SELECT next_reminder_at FROM tasks WHERE id = $1", task["id"])
    assert stored == tomorrow
    await asyncio.sleep(2)  # more looks by every process: the fired one never again
    assert [r["fires_at"] for r in await fired(db, [task["id"]])] == [instant]


async def test_a_fired_reminder_is_delivered_once_to_the_users_reminder_webhooks(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(http)
    with receiving() as receiver:
        webhook = await add_webhook(http, user, receiver.url(), ["reminder"])
        receiver.secrets = [webhook["secret"]]
        task = await create_task(http, user, title="webhooked")
        async with open_stream(http, events_url(user), user.headers) as stream:
            instant = (await db_now(db)) + timedelta(seconds=1)
            await set_reminders(http, user, task["id"], [instant])
            (got,) = await receiver.wait_for(1, within=20)
            event = await next_reminder(stream)
        assert got.verified and got.json["type"] == "reminder"
        # The same data as the stream's event: the task as the API shows it, and the instant.
        assert event is not None and got.json["data"] == event.json
        assert got.json["data"]["fires_at"] == rfc3339(instant)
        shown = await http.get(f"{user.tasks}/{task['id']}", headers=user.headers)
        assert got.json["data"]["task"] == shown.json()
        await asyncio.sleep(2)
        assert len(receiver.received) == 1
    log = await deliveries(http, user, webhook["id"])
    assert [(d["type"], d["status"]) for d in log] == [("reminder", "delivered")]


async def test_completed_and_deleted_tasks_never_fire(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(http)
    done = await create_task(http, user, completed=True)
    gone = await create_task(http, user)
    control = await create_task(http, user)
    instant = (await db_now(db)) + timedelta(seconds=1)
    for task in (done, gone, control):
        await set_reminders(http, user, task["id"], [instant])
    assert (
        await http.delete(f"{user.tasks}/{gone['id']}", headers=user.headers)
    ).status_code == 204

    async def control_fired() -> bool:
        return len(await fired(db, [control["id"]])) == 1

    await wait_until(control_fired)
    await asyncio.sleep(1.5)
    assert [r["task_id"] for r in await fired(db, [done["id"], gone["id"]])] == []


async def due_reminders(
    http: httpx.AsyncClient, db: asyncpg.Connection, users: int, tasks_each: int, delay: float
) -> tuple[list[User], list[int]]:
    """Users with tasks whose reminders all fall due `delay` seconds from now."""
    owners = [await register(http) for _ in range(users)]
    ids = []
    for owner in owners:
        for n in range(tasks_each):
            ids.append((await create_task(http, owner, title=f"r{n}"))["id"])
    instant = (await db_now(db)) + timedelta(seconds=delay)
    await db.execute(
        """UPDATE tasks SET reminders = jsonb_build_array(jsonb_build_object(
               'at', $2::text, 'fires_at', $2::text)), next_reminder_at = $3
           WHERE id = ANY($1::bigint[])""",
        ids,
        rfc3339(instant),
        instant,
    )
    return owners, ids


async def assert_each_fired_once(db: asyncpg.Connection, ids: list[int]) -> None:
    async def all_fired() -> bool:
        return len(await fired(db, ids)) >= len(ids)

    await wait_until(all_fired, seconds=60)
    await asyncio.sleep(1.5)  # more looks by every process: nothing fires twice
    rows = await fired(db, ids)
    assert sorted(r["task_id"] for r in rows) == sorted(ids)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM tasks"
            " WHERE id = ANY($1::bigint[]) AND next_reminder_at IS NOT NULL",
            ids,
        )
        == 0
    )


@pytest.fixture
def two_replicas(database_url: str) -> Iterator[list[str]]:
    """Two of `python -m bench.replicas`'s replicas in remote mode; else two of two workers."""
    if len(REPLICA_URLS) >= 2:
        yield REPLICA_URLS[:2]
        return
    replicas = [start(database_url, "--workers", "2") for _ in range(2)]
    try:
        yield [replica.base for replica in replicas]
    finally:
        for replica in replicas:
            replica.kill()


async def test_two_replicas_of_two_workers_fire_each_reminder_once_and_every_stream_sees_it(
    two_replicas: list[str], db: asyncpg.Connection
) -> None:
    async with (
        httpx.AsyncClient(base_url=two_replicas[0], timeout=30) as first,
        httpx.AsyncClient(base_url=two_replicas[1], timeout=30) as second,
    ):
        owners, ids = await due_reminders(first, db, users=8, tasks_each=25, delay=2)
        watched = owners[0]
        async with (
            open_stream(first, events_url(watched), watched.headers) as one,
            open_stream(second, events_url(watched), watched.headers) as other,
        ):
            await assert_each_fired_once(db, ids)
            for stream in (one, other):
                got = [await stream.next_event(wait=10) for _ in range(25)]
                assert all(e is not None and e.event == "reminder" for e in got)
                task_ids = sorted(e.json["task"]["id"] for e in got if e)
                assert task_ids == sorted(ids[:25])


def over_tcp(database_url: str) -> bool:
    """Whether the URL reaches its server over TCP (not a Unix socket, as the embedded one)."""
    parts = urlsplit(database_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
    return bool(host) and not host.startswith("/")


def database_ports(server: Server, database_url: str) -> set[int]:
    """The local ports of the server's connections to the database (its backends' client_port)."""
    port = urlsplit(database_url).port or 5432
    root = psutil.Process(server.proc.pid)
    return {
        c.laddr.port
        for process in [root, *root.children(recursive=True)]
        for c in process.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port
    }


async def test_a_process_killed_in_the_middle_of_a_firing_loses_none_and_fires_none_twice(
    database_url: str, db: asyncpg.Connection
) -> None:
    if not PREPARED_STATEMENTS:
        pytest.skip("through a pooler, the backends are the pooler's: this server's is not known")
    if REPLICA_URLS:
        pytest.skip("the replicas' firing would race this server's for the held reminders")
    if not over_tcp(database_url):
        pytest.skip("the server's backends are found by their TCP ports; a socket has none")
    server = start(database_url)
    holder = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            _, ids = await due_reminders(http, db, users=1, tasks_each=5, delay=0.5)
        # Hold one of the due tasks: the firing locks their owner, claims the others and then
        # waits for this one, in the middle of its transaction.
        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", ids[-1])

        ports: list[int] = []

        async def firing_waits() -> bool:
            """This server's firing (not another process's) waits in its transaction."""
            ports[:] = database_ports(server, database_url)
            waiting = await db.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE client_port = ANY($1::int[]) AND wait_event_type = 'Lock'
                     AND query LIKE '%next_reminder_at%'""",
                ports,
            )
            return bool(waiting)

        await wait_until(firing_waits)
        server.kill()  # SIGKILL, to the whole process group
        await holding.rollback()

        # The killed firing's transaction never committed: its backend rolls it back and ends.
        async def backends_gone() -> bool:
            left = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY($1::int[])", ports
            )
            return left == 0

        await wait_until(backends_gone)
        server = start(database_url)
        await assert_each_fired_once(db, ids)
    finally:
        await holder.close()  # its lock, if still held, never outlives the test
        server.kill()


async def test_processes_killed_again_and_again_while_many_fire_lose_none_and_fire_none_twice(
    database_url: str, db: asyncpg.Connection
) -> None:
    server = start(database_url, "--workers", "2")
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            _, ids = await due_reminders(http, db, users=40, tasks_each=25, delay=1)
        for pause in (1.2, 0.3, 0.5):
            await asyncio.sleep(pause)
            server.kill()
            server = start(database_url, "--workers", "2")
        await assert_each_fired_once(db, ids)
    finally:
        server.kill()


@needs_replicas
async def test_replicas_killed_and_restarted_while_reminders_fall_due_lose_none_and_fire_none_twice(
    db: asyncpg.Connection,
) -> None:
    """One replica down (SIGKILL) as the reminders fall due, another killed while they fire;
    each comes back (`python -m bench.replicas` restarts it): every reminder fired once."""
    async with httpx.AsyncClient(base_url=REPLICA_URLS[0], timeout=30) as http:
        _, ids = await due_reminders(http, db, users=10, tasks_each=40, delay=1.5)
    await asyncio.sleep(1)
    first = asyncio.create_task(kill_and_await_restart(replica_pid(listening_on(REPLICA_URLS[0]))))
    await asyncio.sleep(0.8)
    await kill_and_await_restart(replica_pid(listening_on(REPLICA_URLS[1])))
    await first
    await assert_each_fired_once(db, ids)
