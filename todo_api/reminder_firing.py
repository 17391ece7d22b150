"""Reminders fire here, exactly once however many workers and replicas run.

Every process looks once every FIRE_SECONDS for due reminders (`tasks.next_reminder_at` at or
before now: one look at a partial index) and fires them in batches, each batch one transaction
(db/events.py, `fire_reminders`): lock the owners (skipping those another process is firing),
move each due task's next_reminder_at on, record the `reminder` event. A process killed in the
middle of a batch leaves nothing of it (the transaction rolls back, the next look takes the
batch again); one killed after the commit leaves the events recorded and the reminders moved on:
none is lost, none fires twice. `now()` is the transaction's start, so nothing fires before its
instant; under normal load it fires within FIRE_SECONDS plus a batch's time after it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Final

from todo_api.db import events
from todo_api.db.pool import Database, DatabaseUnavailable
from todo_api.models.events import reminder_data

FIRE_SECONDS: Final = 1.0
# Reminders fired per transaction at most (it holds their owners' row locks while it runs).
BATCH: Final = 500
PURGE_SECONDS: Final = 600.0  # how often old reminder events are removed
log = logging.getLogger("todo_api")


async def fire_due(db: Database) -> int:
    """Fire every reminder due now, batch after batch; how many fired."""
    fired = 0
    while True:
        firing = await events.fire_reminders(db, BATCH, reminder_data)
        fired += firing.fired
        if firing.owners == 0:
            return fired


async def _keep_firing(db: Database) -> None:
    purged = 0.0
    while True:
        await asyncio.sleep(FIRE_SECONDS)  # not at once: a process starting has enough to do
        try:
            await fire_due(db)
            if time.monotonic() - purged > PURGE_SECONDS:
                await events.purge_reminder_events(db)
                purged = time.monotonic()
        except DatabaseUnavailable as exc:
            log.warning("reminders: the database is unavailable (%s)", exc)
        except Exception:
            log.exception("reminders: firing failed")


@contextlib.asynccontextmanager
async def firing(db: Database) -> AsyncIterator[None]:
    """Fire reminders for as long as the block runs (a worker's life)."""
    task = asyncio.create_task(_keep_firing(db))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
