"""One open event stream (GET /api/{user_id}/events, once routes/events.py has let it open): the
ASGI response that sends a user's changes and fired reminders as Server-Sent Events.

It sends what came after its position at once (a resumed stream catches up), then waits for the
hub (event_hub.py) to tell it of news. Each change goes out with the sync token of its place in
the change feed as its `id`, read with the feed's own function (db/sync.py), so resuming from the
last id received has the feed's guarantee. Every heartbeat interval it renews its claim under
the caller rule (so it ends within one interval once its session ends, its account is
deactivated or deleted) and sends `: ping` when nothing else went out in that interval.

It ends when the client goes, when the caller may no longer act, when the database cannot be
reached (the client resumes from its last id), and at once when the server shuts down: through
the hook serving.py's protocol runs when uvicorn begins a graceful shutdown, and through the hub
at the lifespan's end. Its claim is released as it ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any, Final

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from todo_api.caller import Caller
from todo_api.db import events, sync
from todo_api.db.pool import DatabaseUnavailable
from todo_api.db.users import UserStatus
from todo_api.event_hub import EventHub, Listener
from todo_api.middleware.request_context import SHUTDOWN_HOOKS
from todo_api.models.events import HEARTBEAT, MEDIA_TYPE, change_event, reminder_event
from todo_api.models.sync import SYNC_LIMIT_DEFAULT
from todo_api.services import Services
from todo_api.sync_tokens import FeedPosition

REMINDER_PAGE: Final = 100
log = logging.getLogger("todo_api")


def claim_seconds(heartbeat_seconds: float) -> float:
    """How long a stream's claim on one of its user's places lasts unless renewed: two heartbeats
    and some slack, so a live stream never loses it, and a process killed outright frees its
    streams' places within that time."""
    return 2 * heartbeat_seconds + 5


class StreamEnded(Exception):
    """The caller may no longer act, or the database is gone: the stream ends."""


class EventStream(Response):
    media_type = MEDIA_TYPE

    def __init__(
        self,
        svc: Services,
        hub: EventHub,
        caller: Caller,
        stream_id: uuid.UUID,
        position: FeedPosition,
        reminder_id: int,
    ) -> None:
        self.status_code = 200
        self.background = None
        # No Content-Length: the body never ends by itself. Caches keep none of it; nginx passes
        # each event on at once instead of buffering (X-Accel-Buffering).
        self.init_headers({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self.svc = svc
        self.hub = hub
        self.caller = caller
        self.stream_id = stream_id
        self.position = position
        self.reminder_id = reminder_id
        self.heartbeat = svc.settings.events_heartbeat_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "HEAD":  # what a GET would start with, and no stream
            try:
                await send(
                    {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                )
                await send({"type": "http.response.body", "body": b""})
            finally:
                await self._release()
            return
        listener = self.hub.join(self.caller.user_id, self.position.change_seq, self.reminder_id)
        hooks: list[Any] | None = scope.get(SHUTDOWN_HOOKS)
        if hooks is not None:
            hooks.append(listener.end)
        watcher = asyncio.create_task(_watch_disconnect(receive, listener))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            with contextlib.suppress(StreamEnded):
                await self._run(send, listener)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            self.hub.leave(listener)
            if hooks is not None:
                with contextlib.suppress(ValueError):
                    hooks.remove(listener.end)
            await self._release()

    async def _release(self) -> None:
        try:
            await events.release_stream(self.svc.db, self.stream_id)
        except Exception as exc:  # the pool closing at exit, the database gone: it expires
            log.info("an event stream's claim is left to expire (%s)", type(exc).__name__)

    async def _run(self, send: Send, listener: Listener) -> None:
        loop = asyncio.get_running_loop()
        # The first beat comes a little early by a random part of the interval, so that streams
        # opened together (a restart's reconnections) do not check their sessions all at once.
        next_beat = loop.time() + self.heartbeat * random.uniform(0.5, 1.0)  # noqa: S311
        sent = False  # anything sent since the last heartbeat
        while not listener.ending:
            if listener.feed_news:
                listener.feed_news = False
                sent |= await self._send_changes(send)
            if listener.reminder_news:
                listener.reminder_news = False
                sent |= await self._send_reminders(send)
            if listener.ending or listener.feed_news or listener.reminder_news:
                continue
            wait = next_beat - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await listener.wake.wait()
                listener.wake.clear()
                continue
            if not await self._still_allowed():
                return
            if not sent:
                await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
            sent = False
            next_beat = loop.time() + self.heartbeat

    async def _still_allowed(self) -> bool:
        try:
            return await events.renew_stream(
                self.svc.db, self.caller, self.stream_id, claim_seconds(self.heartbeat)
            )
        except DatabaseUnavailable:
            raise StreamEnded from None

    async def _send_changes(self, send: Send) -> bool:
        """Send every change after the stream's position, page by page; whether any went."""
        svc, caller = self.svc, self.caller
        any_sent = False
        while True:
            position = self.position

            async def read(position: FeedPosition = position) -> _Chunk:
                page = await sync.changes_after(
                    svc.db,
                    caller,
                    change_seq=position.change_seq,
                    task_id=position.task_id,
                    limit=SYNC_LIMIT_DEFAULT,
                    history_days=svc.settings.sync_history_days,
                )
                return _render(svc, caller, page, position)

            chunk = await self._shared(("feed", caller, position), read)
            if chunk.owner is not UserStatus.ACTIVE:
                raise StreamEnded
            if not chunk.body:
                return any_sent
            self.position = chunk.position
            await send({"type": "http.response.body", "body": chunk.body, "more_body": True})
            any_sent = True
            if not chunk.more:
                return any_sent

    async def _send_reminders(self, send: Send) -> bool:
        svc, caller = self.svc, self.caller
        any_sent = False
        while True:
            after = self.reminder_id

            async def read(after: int = after) -> events.ReminderPage:
                return await events.reminders_after(svc.db, caller, after, REMINDER_PAGE)

            page = await self._shared(("reminders", caller, after), read)
            if page.owner is not UserStatus.ACTIVE:
                raise StreamEnded
            if not page.events:
                return any_sent
            self.reminder_id = page.events[-1][0]
            chunk = b"".join(reminder_event(data) for _, data in page.events)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            any_sent = True
            if len(page.events) < REMINDER_PAGE:
                return any_sent

    async def _shared(self, key: Any, read: Any) -> Any:
        try:
            return await self.hub.shared(key, read)
        except DatabaseUnavailable:
            raise StreamEnded from None


@dataclass(frozen=True)
class _Chunk:
    """A page of the feed as events: rendered once, by the read the streams of one caller at
    one position share (each of a user's streams sends the same bytes)."""

    owner: UserStatus
    body: bytes  # empty: nothing after the position
    position: FeedPosition  # that of the page's last change
    more: bool


def _render(svc: Services, caller: Caller, page: sync.ChangePage, after: FeedPosition) -> _Chunk:
    events_out = []
    position = after
    for row in page.rows:
        position = FeedPosition(row["change_seq"], row["id"])
        token = svc.sync_tokens.encode(caller.user_id, position)
        events_out.append(change_event(row, token))
    return _Chunk(page.owner, b"".join(events_out), position, page.more)


async def _watch_disconnect(receive: Receive, listener: Listener) -> None:
    """End the stream when the client goes away."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            listener.end()
            return
