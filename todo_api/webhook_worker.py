"""The webhook delivery worker: one per process, started and stopped by the app's lifespan.

It claims due deliveries in PostgreSQL (db/webhooks.py: FOR UPDATE SKIP LOCKED, and a claim that
runs out, so each attempt is made by one process however many workers and replicas run, and
the deliveries of a process that dies mid-attempt are taken again once its claims run out),
sends each (webhook_http.py: a signed POST to an address checked as it is connected to), and
records the outcome: delivered on a 2xx; anything else, no answer within
WEBHOOK_TIMEOUT_SECONDS for the whole attempt, or a connection error is a failed attempt,
retried after the next of WEBHOOK_RETRY_SECONDS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid
from typing import TYPE_CHECKING, Final

import asyncpg

from todo_api.addresses import Resolve, system_resolve
from todo_api.db import webhooks
from todo_api.db.pool import Database, DatabaseUnavailable
from todo_api.settings import Settings

if TYPE_CHECKING:
    from todo_api.webhook_http import Sender

log = logging.getLogger("todo_api.webhooks")

# How often an idle worker looks for due deliveries: the first attempt follows a commit within
# this (plus the attempt itself), well inside the contract's 5 seconds.
POLL_SECONDS: Final = 1.0
# Attempts at once per process, and so deliveries claimed at once.
CONCURRENCY: Final = 32
# A claim outlives its attempt's time limit by this much before another process may take it.
CLAIM_MARGIN_SECONDS: Final = 5.0
KEEP_DAYS: Final = 7  # the deliveries log (API.md: at least 7 days)
PURGE_EVERY_SECONDS: Final = 600.0
PURGE_BATCH: Final = 1000


class WebhookWorker:
    """Claims, sends and records deliveries until stopped."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        resolve: Resolve = system_resolve,
        ssl_context: ssl.SSLContext | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._db = db
        self._timeout = settings.webhook_timeout_seconds
        self._delays = settings.webhook_retry_seconds
        self._disable_after = settings.webhook_disable_after
        self._poll_seconds = poll_seconds
        self._claim = uuid.uuid4()  # this process's claims
        self._allow_private = settings.webhook_allow_private
        self._resolve = resolve
        self._ssl_context = ssl_context
        self._sender: Sender | None = None  # made when there is a first delivery to send
        self._attempts: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        """Stop claiming, cancel the attempts under way, and give their deliveries back."""
        tasks = [t for t in (self._loop, *self._attempts) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await webhooks.release_claims(self._db, self._claim)
        if self._sender is not None:
            await self._sender.aclose()

    async def _run(self) -> None:
        next_purge = time.monotonic()
        while True:
            # Claim in batches: once half the attempts at once are free, not one by one.
            while len(self._attempts) > CONCURRENCY // 2:
                await asyncio.wait(set(self._attempts), return_when=asyncio.FIRST_COMPLETED)
            room = CONCURRENCY - len(self._attempts)
            try:
                if time.monotonic() >= next_purge:
                    await webhooks.purge_deliveries(self._db, KEEP_DAYS, PURGE_BATCH)
                    next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                claimed = await self._claim_some(room)
            except DatabaseUnavailable as exc:
                log.warning("webhook deliveries wait for the database (%s)", exc)
                claimed = []
            except Exception:
                log.exception("webhook worker: claiming deliveries failed")
                claimed = []
            for delivery in claimed:
                task = asyncio.create_task(self._attempt(delivery))
                self._attempts.add(task)
                task.add_done_callback(self._attempts.discard)
            if len(claimed) < room:  # nothing more is due now
                await asyncio.sleep(self._poll_seconds)

    async def _claim_some(self, room: int) -> list[asyncpg.Record]:
        claim_seconds = self._timeout + CLAIM_MARGIN_SECONDS
        return await webhooks.claim_deliveries(self._db, self._claim, room, claim_seconds)

    def sender(self) -> Sender:
        """The HTTP side, imported and made on first use."""
        if self._sender is None:
            from todo_api.webhook_http import Sender

            self._sender = Sender(
                allow_private=self._allow_private,
                timeout=self._timeout,
                resolve=self._resolve,
                max_connections=CONCURRENCY,
                ssl_context=self._ssl_context,
            )
        return self._sender

    async def _attempt(self, delivery: asyncpg.Record) -> None:
        try:
            outcome = await self.sender().send(delivery)
        except Exception as exc:  # never lose the worker to one delivery
            log.exception("webhook delivery %s: the attempt failed", delivery["delivery_id"])
            outcome = webhooks.Outcome(False, None, f"internal error ({type(exc).__name__})")
        for pause in (0.5, 2.0, 5.0, None):
            try:
                await webhooks.record_attempt(
                    self._db,
                    self._claim,
                    delivery,
                    outcome,
                    delays=self._delays,
                    disable_after=self._disable_after,
                )
                return
            except DatabaseUnavailable:
                if pause is None:  # the claim runs out and another attempt follows
                    log.warning("delivery %s: outcome not recorded", delivery["delivery_id"])
                    return
                await asyncio.sleep(pause)
