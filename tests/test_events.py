"""GET /api/{user_id}/events against a real server process, read by a real HTTP client: task
events with their sync tokens, resuming without a gap, heartbeats, tickets for EventSource, the
per-user limit, streams that end with their session, and a shutdown no stream holds up.

In remote mode (`python -m bench.replicas`) the streams are read through the balancer in front
of the replicas, so a stream and the writes its events come from are served by different
replicas; they run the suite's settings (todo_api.testing.TEST_SETTINGS), as the server started
here does."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import (
    SERVICE_URL,
    TEST_SECRET,
    User,
    assert_problem,
    create_task,
    register,
)
from tests.sse import Stream, open_stream
from todo_api.sync_tokens import FeedPosition, SyncTokens
from todo_api.testing import TEST_SETTINGS, TODO_API, Server

pytestmark = pytest.mark.anyio

HEARTBEAT = float(TEST_SETTINGS["EVENTS_HEARTBEAT_SECONDS"])
MAX_STREAMS = int(TEST_SETTINGS["EVENTS_MAX_STREAMS"])


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The suite's settings (heartbeat, stream limit, webhooks to loopback), on this database."""
    return {
        **TEST_SETTINGS,
        "DATABASE_URL": database_url,
        "MIGRATE_ON_START": "false",
        "LOG_LEVEL": "warning",
        **extra,
    }


@contextlib.contextmanager
def one_worker_or_balancer(database_url: str) -> Iterator[str]:
    """The base URL the tests' clients use: the balancer in remote mode, else a server process
    of its own (one worker) on the suite's database, until the block ends."""
    if SERVICE_URL:
        yield SERVICE_URL
        return
    started = Server(TODO_API, server_env(database_url))
    try:
        started.wait_until_up()
        yield started.base
    finally:
        started.kill()


@pytest.fixture(scope="module")
def service(database_url: str) -> Iterator[str]:
    with one_worker_or_balancer(database_url) as base:
        yield base


@pytest.fixture
async def http(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=30) as client:
        yield client


def events_url(user: User) -> str:
    return f"/api/{user.id}/events"


async def test_a_change_arrives_as_a_task_event_whose_id_is_its_sync_token(
    http: httpx.AsyncClient,
) -> None:
    user = await register(http)
    async with open_stream(http, events_url(user), user.headers) as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in stream.response.headers
        task = await create_task(http, user, title="live")
        event = await stream.next_event()
        assert event is not None and event.event == "task"
        assert event.json == task
        # The id is a sync token: the feed after it holds nothing more.
        since = {"since": event.id}
        r = await http.get(f"{user.tasks}/changes", params=since, headers=user.headers)
        assert r.status_code == 200 and r.json()["changes"] == []
        changed = await http.put(
            f"{user.tasks}/{task['id']}", json={"title": "changed"}, headers=user.headers
        )
        event = await stream.next_event()
        assert event is not None and event.event == "task" and event.json == changed.json()
        await http.delete(f"{user.tasks}/{task['id']}", headers=user.headers)
        event = await stream.next_event()
        assert event is not None and event.event == "task.deleted"
        assert event.json["id"] == task["id"] and event.json["deleted"] is True


async def test_a_stream_without_a_token_starts_from_now(http: httpx.AsyncClient) -> None:
    user = await register(http)
    await create_task(http, user, title="before")
    async with open_stream(http, events_url(user), user.headers) as stream:
        after = await create_task(http, user, title="after")
        event = await stream.next_event()
        assert event is not None and event.json == after


async def test_resuming_from_last_event_id_or_since_sends_exactly_what_came_after(
    http: httpx.AsyncClient,
) -> None:
    user = await register(http)
    first = await create_task(http, user, title="first")
    async with open_stream(http, events_url(user), user.headers) as stream:
        second = await create_task(http, user, title="second")
        seen = await stream.next_event()
        assert seen is not None and seen.id is not None
    missed = [await create_task(http, user, title=f"missed {n}") for n in range(3)]
    await http.delete(f"{user.tasks}/{first['id']}", headers=user.headers)
    for how in ("header", "query"):
        headers, params = dict(user.headers), {}
        if how == "header":
            headers["Last-Event-ID"] = seen.id
            params["since"] = "ignored when Last-Event-ID is sent"
        else:
            params["since"] = seen.id
        async with open_stream(http, events_url(user), headers, params) as stream:
            assert stream.response.status_code == 200, stream.response.text
            got = [await stream.next_event() for _ in range(4)]
            assert [e.json for e in got[:3] if e] == missed
            assert got[3] is not None and got[3].event == "task.deleted"
            assert got[3].json["id"] == first["id"]
            assert second["id"] not in {e.json["id"] for e in got if e}


async def test_a_foreign_or_old_token_is_refused_before_the_stream_starts(
    http: httpx.AsyncClient,
) -> None:
    user, other = await register(http), await register(http)
    tokens = SyncTokens(TEST_SECRET, 30)
    foreign = tokens.encode(other.id, FeedPosition(1, 1))
    old = tokens.encode(user.id, FeedPosition(1, 1), now=time.time() - 31 * 86400)
    for headers, params, status in [
        ({"Last-Event-ID": foreign}, {}, 422),
        ({}, {"since": foreign}, 422),
        ({}, {"since": "forged"}, 422),
        ({"Last-Event-ID": old}, {}, 410),
        ({}, {"since": old}, 410),
    ]:
        async with open_stream(
            http, events_url(user), {**user.headers, **headers}, params
        ) as stream:
            assert_problem(stream.response, status)


async def test_head_answers_as_the_stream_would_start_and_holds_no_place(
    http: httpx.AsyncClient,
) -> None:
    user = await register(http)
    for _ in range(MAX_STREAMS + 1):
        r = await http.head(events_url(user), headers=user.headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    r = await http.head(events_url(user))
    assert r.status_code == 401


async def test_an_idle_stream_sends_a_ping_every_heartbeat(http: httpx.AsyncClient) -> None:
    user = await register(http)
    async with open_stream(http, events_url(user), user.headers) as stream:
        for _ in range(2):
            event = await stream.next(wait=HEARTBEAT * 5)
            assert event is not None and event.event == "comment" and event.data == "ping"


async def test_the_stream_needs_the_token_of_the_paths_user(http: httpx.AsyncClient) -> None:
    user, other = await register(http), await register(http)
    async with open_stream(http, events_url(user)) as stream:
        assert_problem(stream.response, 401)
    async with open_stream(http, events_url(user), other.headers) as stream:
        assert_problem(stream.response, 403)


async def ticket_for(http: httpx.AsyncClient, user: User) -> dict[str, Any]:
    r = await http.post(f"/api/{user.id}/events/tickets", headers=user.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"ticket", "expires_at"} and body["expires_at"].endswith("Z")
    return body


async def test_a_ticket_opens_the_stream_once_for_its_user_only(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user, other = await register(http), await register(http)
    ticket = (await ticket_for(http, user))["ticket"]
    async with open_stream(http, events_url(other), params={"ticket": ticket}) as stream:
        assert_problem(stream.response, 401)  # another user's path: refused, and not used up
    async with open_stream(http, events_url(user), params={"ticket": ticket}) as stream:
        assert stream.response.status_code == 200
        task = await create_task(http, user)
        event = await stream.next_event()
        assert event is not None and event.json == task
    async with open_stream(http, events_url(user), params={"ticket": ticket}) as stream:
        assert_problem(stream.response, 401)  # used
    async with open_stream(http, events_url(user), params={"ticket": "unknown"}) as stream:
        assert_problem(stream.response, 401)
    expired = (await ticket_for(http, user))["ticket"]
    await db.execute(
        "UPDATE event_tickets SET expires_at = now() - interval '1 second' WHERE user_id = $1",
        user.id,
    )
    async with open_stream(http, events_url(user), params={"ticket": expired}) as stream:
        assert_problem(stream.response, 401)


async def test_a_ticket_belongs_to_the_session_that_made_it(http: httpx.AsyncClient) -> None:
    user = await register(http)
    ticket = (await ticket_for(http, user))["ticket"]
    assert (await http.post("/api/auth/logout", headers=user.headers)).status_code == 204
    async with open_stream(http, events_url(user), params={"ticket": ticket}) as stream:
        assert_problem(stream.response, 401)


async def test_a_ticket_made_with_a_personal_token_belongs_to_that_token(
    http: httpx.AsyncClient,
) -> None:
    user = await register(http)
    made = await http.post("/api/auth/tokens", json={"name": "events"}, headers=user.headers)
    assert made.status_code == 201, made.text
    personal = dataclasses.replace(user, token=made.json()["token"])
    ticket = (await ticket_for(http, personal))["ticket"]
    async with open_stream(http, events_url(user), params={"ticket": ticket}) as stream:
        assert stream.response.status_code == 200
        task = await create_task(http, user)
        event = await stream.next_event()
        assert event is not None and event.json == task
    ticket = (await ticket_for(http, personal))["ticket"]
    deleted = await http.delete(f"/api/auth/tokens/{made.json()['id']}", headers=user.headers)
    assert deleted.status_code == 204
    async with open_stream(http, events_url(user), params={"ticket": ticket}) as stream:
        assert_problem(stream.response, 401)


async def test_tickets_concurrently_used_open_one_stream(http: httpx.AsyncClient) -> None:
    user = await register(http)
    ticket = (await ticket_for(http, user))["ticket"]

    async def try_open() -> int:
        async with open_stream(http, events_url(user), params={"ticket": ticket}) as stream:
            return stream.response.status_code

    statuses = await asyncio.gather(*(try_open() for _ in range(5)))
    assert sorted(statuses) == [200, 401, 401, 401, 401]


async def test_one_stream_over_the_limit_gets_429_and_a_closed_one_frees_its_place(
    http: httpx.AsyncClient,
) -> None:
    user = await register(http)
    async with contextlib.AsyncExitStack() as open_ones:
        for _ in range(MAX_STREAMS):
            stream = await open_ones.enter_async_context(
                open_stream(http, events_url(user), user.headers)
            )
            assert stream.response.status_code == 200
        async with open_stream(http, events_url(user), user.headers) as refused:
            assert_problem(refused.response, 429)
            assert int(refused.response.headers["retry-after"]) >= 1
        # Each stays open (a ping every heartbeat) while one more is refused.
        assert await stream.next(wait=HEARTBEAT * 5) is not None
        async with open_stream(http, events_url(user), user.headers) as refused:
            assert_problem(refused.response, 429)
        await stream.response.aclose()
        # The server sees that client go and frees its place.
        for _ in range(50):
            async with open_stream(http, events_url(user), user.headers) as again:
                if again.response.status_code == 200:
                    break
                assert_problem(again.response, 429)
            await asyncio.sleep(0.1)
        assert again.response.status_code == 200
        for _ in range(50):
            async with open_stream(http, events_url(user), user.headers) as again:
                if again.response.status_code == 200:
                    break
            await asyncio.sleep(0.1)
        assert again.response.status_code == 200


async def test_the_limit_holds_for_streams_opened_at_once(http: httpx.AsyncClient) -> None:
    user = await register(http)
    async with contextlib.AsyncExitStack() as open_ones:
        streams = [
            open_stream(http, events_url(user), user.headers) for _ in range(MAX_STREAMS + 4)
        ]
        opened: list[Stream] = list(
            await asyncio.gather(*(open_ones.enter_async_context(s) for s in streams))
        )
        statuses = sorted(s.response.status_code for s in opened)
        assert statuses == [200] * MAX_STREAMS + [429] * 4


async def stream_ends_when(http: httpx.AsyncClient, user: User, action: Any) -> None:
    async with open_stream(http, events_url(user), user.headers) as stream:
        assert stream.response.status_code == 200
        await action()
        # Within one heartbeat (and the slack of a busy shared machine).
        assert await stream.ended(wait=HEARTBEAT * 5)


async def test_a_stream_ends_when_its_session_ends(
    http: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(http)

    async def logout() -> None:
        assert (await http.post("/api/auth/logout", headers=user.headers)).status_code == 204

    await stream_ends_when(http, user, logout)

    user = await register(http)

    async def change_password() -> None:
        body = {"current_password": user.password, "new_password": "another password"}
        r = await http.put("/api/auth/password", json=body, headers=user.headers)
        assert r.status_code == 200

    await stream_ends_when(http, user, change_password)

    user = await register(http)

    async def deactivate() -> None:
        await db.execute("UPDATE users SET is_active = false WHERE id = $1", user.id)

    await stream_ends_when(http, user, deactivate)

    user = await register(http)

    async def delete() -> None:
        r = await http.request(
            "DELETE", "/api/auth/me", json={"password": user.password}, headers=user.headers
        )
        assert r.status_code == 204

    await stream_ends_when(http, user, delete)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_shutdown_is_not_held_up_by_open_streams(database_url: str, workers: str) -> None:
    env = server_env(database_url, EVENTS_HEARTBEAT_SECONDS="60")
    server = Server([*TODO_API, "--workers", workers], env)
    try:
        server.wait_until_up()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            user = await register(http)
            streams = [open_stream(http, events_url(user), user.headers) for _ in range(3)]
            opened = [await s.__aenter__() for s in streams]  # kept open by `streams`
            assert all(s.response.status_code == 200 for s in opened)
            started = time.monotonic()
            server.proc.send_signal(15)
            # Each stream is ended by the server (not cut), and the process exits 0, well before
            # uvicorn's 10-second graceful timeout would have cancelled them.
            for stream in opened:
                assert await stream.ended(wait=5)
            assert server.wait_for_exit(timeout=8) == 0
            assert time.monotonic() - started < 8
            assert "timeout graceful shutdown exceeded" not in server.output
    finally:
        server.kill()
