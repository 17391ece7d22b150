"""Event streams under concurrent writers, against `todo-api serve --workers 2`: readers that
drop their connection at random points and resume from the last id they got end with exactly
the server's tasks, whichever worker served each write and each stream.

In remote mode (`python -m bench.replicas`) the same runs go to the replicas instead: the
readers through the balancer, each writer to a replica of its own by its address."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import SERVICE_URL, User, register
from tests.sse import open_stream
from tests.test_events import MAX_STREAMS, events_url, server_env
from tests.test_replicas import REPLICA_URLS
from tests.test_sync import server_tasks
from todo_api.testing import TODO_API, Server

pytestmark = pytest.mark.anyio

RUNS = 3
WRITERS = 4
WRITES_EACH = 40
READERS = 3


@dataclass
class Service:
    """Where the readers read (`base`) and where each writer writes (`writers`)."""

    base: str
    writers: list[str]


@pytest.fixture(scope="module")
def service(database_url: str) -> Iterator[Service]:
    """The replicas behind the balancer in remote mode; else `todo-api serve --workers 2`."""
    if SERVICE_URL:
        yield Service(SERVICE_URL, REPLICA_URLS or [SERVICE_URL])
        return
    env = server_env(database_url, EVENTS_MAX_STREAMS="20")
    started = Server([*TODO_API, "--workers", "2"], env)
    try:
        started.wait_until_up()
        yield Service(started.base, [started.base])
    finally:
        started.kill()


async def write(http: httpx.AsyncClient, user: User, seed: int) -> None:
    """Creates, changes, completions, moves and deletes, at random."""
    rng = random.Random(seed)
    mine: list[int] = []
    for n in range(WRITES_EACH):
        action = rng.choice(["create", "create", "update", "complete", "move", "delete"])
        if action == "create" or not mine:
            r = await http.post(user.tasks, json={"title": f"w{seed}-{n}"}, headers=user.headers)
            assert r.status_code == 201, r.text
            mine.append(r.json()["id"])
            continue
        task_id = rng.choice(mine)
        url = f"{user.tasks}/{task_id}"
        if action == "update":
            r = await http.put(url, json={"title": f"t{seed}-{n}"}, headers=user.headers)
        elif action == "complete":
            r = await http.patch(f"{url}/complete", headers=user.headers)
        elif action == "move":
            r = await http.post(f"{url}/move", json={"after": None}, headers=user.headers)
        else:
            r = await http.delete(url, headers=user.headers)
            mine.remove(task_id)
        assert r.status_code in (200, 204), r.text


class Reader:
    """A client's copy, kept by streams it drops at random points and resumes."""

    def __init__(self, http: httpx.AsyncClient, user: User, seed: int) -> None:
        self.http = http
        self.user = user
        self.rng = random.Random(seed)
        self.copy: dict[int, dict[str, Any]] = {}
        self.last_id: str | None = None
        self.connected = asyncio.Event()
        self.resumes = 0

    def apply(self, event: Any) -> None:
        if event.event == "task":
            self.copy[event.json["id"]] = event.json
        elif event.event == "task.deleted":
            self.copy.pop(event.json["id"], None)
        if event.id is not None:
            self.last_id = event.id

    async def read(self, writing: asyncio.Event) -> None:
        """Read, dropping the stream after a random number of events, until the writers are
        done and nothing has come for a while."""
        while True:
            headers = dict(self.user.headers)
            if self.last_id is not None:
                headers["Last-Event-ID"] = self.last_id
            async with open_stream(self.http, events_url(self.user), headers) as stream:
                if stream.response.status_code == 429:
                    # The place of the stream this reader just dropped is not free yet (the
                    # server has not seen the client go): try again, as an app would.
                    await asyncio.sleep(0.1)
                    continue
                assert stream.response.status_code == 200, stream.response.text
                self.connected.set()
                take = self.rng.randint(1, 15)
                for _ in range(take):
                    try:
                        event = await stream.next_event(wait=3)
                    except TimeoutError:
                        if not writing.is_set():
                            return  # quiet after the writers finished: done
                        continue
                    assert event is not None
                    self.apply(event)
            self.resumes += 1
            await asyncio.sleep(self.rng.random() * 0.05)


@pytest.mark.parametrize("run", range(RUNS))
async def test_readers_that_drop_and_resume_end_with_exactly_the_servers_tasks(
    service: Service, run: int
) -> None:
    limits = httpx.Limits(max_connections=50)
    async with contextlib.AsyncExitStack() as clients:
        http = await clients.enter_async_context(
            httpx.AsyncClient(base_url=service.base, timeout=30, limits=limits)
        )
        writers = [
            await clients.enter_async_context(
                httpx.AsyncClient(base_url=service.writers[n % len(service.writers)], timeout=30)
            )
            for n in range(WRITERS)
        ]
        user = await register(http)
        readers = [Reader(http, user, seed=run * 100 + n) for n in range(READERS)]
        writing = asyncio.Event()
        writing.set()
        reading = [asyncio.create_task(r.read(writing)) for r in readers]
        await asyncio.gather(*(r.connected.wait() for r in readers))
        await asyncio.gather(
            *(write(writer, user, seed=run * 10 + n) for n, writer in enumerate(writers))
        )
        writing.clear()
        await asyncio.gather(*reading)
        expected = await server_tasks(http, user)
        assert expected  # the writers left tasks behind
        for reader in readers:
            assert reader.resumes > 0
            assert reader.copy == expected


@pytest.fixture(scope="module")
def two_replicas(database_url: str) -> Iterator[list[str]]:
    """Two replicas on one database, by their addresses: two of `python -m bench.replicas`'s in
    remote mode, else two started here (one of two workers, one of one)."""
    if len(REPLICA_URLS) >= 2:
        yield REPLICA_URLS[:2]
        return
    env = server_env(database_url)
    replicas = [Server([*TODO_API, "--workers", "2"], env), Server(TODO_API, env)]
    try:
        for replica in replicas:
            replica.wait_until_up()
        yield [replica.base for replica in replicas]
    finally:
        for replica in replicas:
            replica.kill()


async def test_the_limit_and_the_events_hold_across_replicas(two_replicas: list[str]) -> None:
    """Two replicas on one database: the streams of one user count together, and a change
    written through one reaches a stream on the other."""
    async with (
        httpx.AsyncClient(base_url=two_replicas[0], timeout=30) as a,
        httpx.AsyncClient(base_url=two_replicas[1], timeout=30) as b,
        contextlib.AsyncExitStack() as open_ones,
    ):
        user = await register(a)
        streams = []
        for client in ([a, b] * MAX_STREAMS)[:MAX_STREAMS]:
            stream = await open_ones.enter_async_context(
                open_stream(client, events_url(user), user.headers)
            )
            assert stream.response.status_code == 200
            streams.append(stream)
        for client in (a, b):
            async with open_stream(client, events_url(user), user.headers) as refused:
                assert refused.response.status_code == 429
        r = await b.post(user.tasks, json={"title": "through b"}, headers=user.headers)
        assert r.status_code == 201
        for stream in streams:
            event = await stream.next_event()
            assert event is not None and event.json == r.json()
