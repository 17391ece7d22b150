"""The event streams of one process, and the one poll that tells them of news.

A change committed by any worker or replica must reach every open stream of its user within a
second, also through a transaction pooler (PgBouncer, Neon's, Supabase's), where LISTEN does not
work. So nothing is announced on the write path (a write costs what it cost before, with or
without streams), and each process asks instead: every POLL_SECONDS, while it holds at least one
stream, one statement (sql/events_heads.sql) tells it which of its streaming users have a change
or a reminder event numbered after the last it knows of. Those users' streams are woken, and
each reads what it has not sent from the change feed itself (db/sync.py, with the feed's
guarantee) and from the reminder events; streams of one caller at the same position share one
read. A process without streams asks nothing.

Why a number is enough: a user's changes (and reminder events) commit in the order of their
numbers (migrations 0004 and 0010), so a number larger than the last known one means news, and
reading after a stream's own position never misses a change committed later with a smaller one.

The process's streams end at once when it shuts down (`close`), so a restart never waits for
them; app.py calls it from the lifespan, and serving.py's protocol ends each stream's response
as soon as uvicorn begins a graceful shutdown (before it waits for open connections)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from todo_api.db import events
from todo_api.db.pool import Database, DatabaseUnavailable

POLL_SECONDS: Final = 0.25
CLOSING_SECONDS: Final = 1.0  # how long the lifespan's end waits for streams to finish
T = TypeVar("T")
log = logging.getLogger("todo_api")


@dataclass(eq=False)
class Listener:
    """One open stream, as the hub sees it: woken when its user has news, or when it must end."""

    user_id: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    feed_news: bool = True  # its first look reads what came after where it starts
    reminder_news: bool = True
    ending: bool = False

    def end(self) -> None:
        """End the stream (a shutdown, a client gone)."""
        self.ending = True
        self.wake.set()


@dataclass
class _User:
    listeners: set[Listener]
    feed_seq: int
    reminder_id: int


class EventHub:
    def __init__(self, db: Database, poll_seconds: float = POLL_SECONDS) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.closed = False
        self._users: dict[str, _User] = {}
        self._someone = asyncio.Event()  # set while at least one stream is open
        self._nobody = asyncio.Event()  # set while none is
        self._nobody.set()
        self._shared: dict[Hashable, asyncio.Future[Any]] = {}
        self._poller: asyncio.Task[None] | None = None

    @property
    def streams(self) -> int:
        return sum(len(user.listeners) for user in self._users.values())

    def join(self, user_id: str, feed_seq: int, reminder_id: int) -> Listener:
        """A new stream of this user's, whose reads start after these numbers."""
        listener = Listener(user_id)
        if self.closed:
            listener.end()
            return listener
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(set(), feed_seq, reminder_id)
        user.listeners.add(listener)
        self._someone.set()
        self._nobody.clear()
        return listener

    def leave(self, listener: Listener) -> None:
        user = self._users.get(listener.user_id)
        if user is None:
            return
        user.listeners.discard(listener)
        if not user.listeners:
            del self._users[listener.user_id]
            if not self._users:
                self._someone.clear()
                self._nobody.set()

    async def shared(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`, or the result of the same read already under way for another stream (the
        streams of one caller at one position read the same page)."""
        future = self._shared.get(key)
        if future is None:
            future = asyncio.ensure_future(read())
            self._shared[key] = future
            future.add_done_callback(lambda done: self._forget(key, done))
        result: T = await asyncio.shield(future)
        return result

    def _forget(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        self._shared.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: its readers may all have gone

    async def poll_once(self) -> None:
        """Ask once which streaming users have news; wake their streams."""
        known = [
            events.Heads(user_id, user.feed_seq, user.reminder_id)
            for user_id, user in self._users.items()
        ]
        if not known:
            return
        for heads in await events.news(self.db, known):
            user = self._users.get(heads.user_id)
            if user is None:
                continue  # its last stream ended meanwhile
            feed = heads.feed_seq > user.feed_seq
            reminders = heads.reminder_id > user.reminder_id
            user.feed_seq = max(user.feed_seq, heads.feed_seq)
            user.reminder_id = max(user.reminder_id, heads.reminder_id)
            for listener in user.listeners:
                listener.feed_news |= feed
                listener.reminder_news |= reminders
                listener.wake.set()

    async def _poll(self) -> None:
        while True:
            await self._someone.wait()
            try:
                await self.poll_once()
            except DatabaseUnavailable as exc:
                log.warning("event poll: the database is unavailable (%s)", exc)
            except Exception:
                log.exception("event poll failed")
            await asyncio.sleep(self.poll_seconds)

    def close(self) -> None:
        """End every stream of this process now; no new one opens."""
        self.closed = True
        for user in self._users.values():
            for listener in user.listeners:
                listener.end()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[EventHub]:
        """The poll, for the process's life; at its end every stream ends."""
        self._poller = asyncio.create_task(self._poll())
        try:
            yield self
        finally:
            self.close()
            # The streams end in their own tasks (releasing their claims): a moment for that.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSING_SECONDS):
                    await self._nobody.wait()
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
