"""The webhook delivery worker: one per process, started and stopped by the app's lifespan.

It claims due deliveries in PostgreSQL (db/webhooks.py: FOR UPDATE SKIP LOCKED, and a claim that
runs out, so each attempt is made by one process however many workers and replicas run, and
the deliveries of a process that dies mid-attempt are taken again once its claims run out),
sends each as a signed POST (Standard Webhooks, with the `standardwebhooks` library), and
records the outcome: delivered on a 2xx; anything else, no answer within
WEBHOOK_TIMEOUT_SECONDS for the whole attempt, or a connection error is a failed attempt,
retried after the next of WEBHOOK_RETRY_SECONDS.

Addresses: a url's name is resolved once per connection, by the network backend itself; every
address it gives is checked (unless WEBHOOK_ALLOW_PRIVATE), and the connection is made to
one of those checked addresses, while TLS still names (SNI) and verifies the url's host. There is
no second lookup a name that changes its answer could slip past."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import httpcore
import httpx
from standardwebhooks import Webhook

from todo_api import __version__
from todo_api.addresses import refusal
from todo_api.db import webhooks
from todo_api.db.pool import Database, DatabaseUnavailable
from todo_api.models.webhooks import event_body
from todo_api.settings import Settings

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
USER_AGENT: Final = f"todo-api-webhooks/{__version__}"

# A name's addresses: (host, port) -> addresses as text. Tests give their own.
Resolve = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for a name, in its order, each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressRefused(Exception):
    """The url's name resolves to an address a webhook may not reach."""


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but a connection goes only to an address just resolved and
    checked: the TCP connection is made to that address, while httpcore's TLS layer above
    still uses the url's host for SNI and certificate verification."""

    def __init__(self, allow_private: bool, resolve: Resolve = system_resolve) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._checked(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def _checked(self, host: str, port: int) -> list[str]:
        try:
            written = ipaddress.ip_address(host)
        except ValueError:
            written = None
        if written is not None:
            addresses = [str(written)]
        else:
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} does not resolve ({exc})") from exc
            if not addresses:
                raise httpcore.ConnectError(f"{host} has no address")
        if not self._allow_private:
            for address in addresses:
                reason = refusal(ipaddress.ip_address(address))
                if reason is not None:
                    raise AddressRefused(f"refused: {host} resolves to {address}, {reason}")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _origin_url(url: str) -> httpcore.URL:
    parsed = httpx.URL(url)  # IDNA-encodes the host, splits off the fragment
    return httpcore.URL(
        scheme=parsed.raw_scheme,
        host=parsed.raw_host,
        port=parsed.port,
        target=parsed.raw_path,
    )


def _signed_headers(delivery: asyncpg.Record, body: bytes) -> list[tuple[bytes, bytes]]:
    """Content type and the Standard Webhooks headers: the delivery's id (the same on every
    retry), this attempt's time, and the signature over both and the body."""
    now = datetime.now(UTC)
    msg_id: str = delivery["delivery_id"]
    signature = Webhook(delivery["webhook_secret"]).sign(msg_id, now, body)
    return [
        (b"Content-Type", b"application/json"),
        (b"User-Agent", USER_AGENT.encode()),
        (b"webhook-id", msg_id.encode()),
        (b"webhook-timestamp", str(int(now.timestamp())).encode()),
        (b"webhook-signature", signature.encode()),
    ]


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
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=CONCURRENCY,
            keepalive_expiry=5.0,
            network_backend=CheckedBackend(settings.webhook_allow_private, resolve),
        )
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
        await self._pool.aclose()

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

    async def _attempt(self, delivery: asyncpg.Record) -> None:
        try:
            outcome = await self.send(delivery)
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

    async def send(self, delivery: asyncpg.Record) -> webhooks.Outcome:
        """One attempt: the whole of it (resolving, connecting, sending, the answer's status)
        within WEBHOOK_TIMEOUT_SECONDS; redirects are answers like any other, never followed."""
        body = event_body(delivery)
        headers = _signed_headers(delivery, body)
        limit = self._timeout
        timeouts = {"connect": limit, "read": limit, "write": limit, "pool": limit}
        try:
            async with asyncio.timeout(limit):
                url = _origin_url(delivery["webhook_url"])
                async with self._pool.stream(
                    "POST", url, headers=headers, content=body, extensions={"timeout": timeouts}
                ) as response:
                    status = response.status
        except TimeoutError:
            return webhooks.Outcome(False, None, f"no answer within {limit:g} s")
        except httpcore.TimeoutException:
            return webhooks.Outcome(False, None, f"no answer within {limit:g} s")
        except AddressRefused as exc:
            return webhooks.Outcome(False, None, str(exc))
        except (httpcore.ConnectError, OSError) as exc:
            return webhooks.Outcome(False, None, f"connection failed: {exc or type(exc).__name__}")
        except (httpcore.ProtocolError, httpcore.NetworkError, ssl.SSLError) as exc:
            return webhooks.Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
        except (httpcore.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return webhooks.Outcome(False, None, f"bad url: {exc}"[:500])
        if 200 <= status < 300:
            return webhooks.Outcome(True, status, None)
        return webhooks.Outcome(False, status, f"answered {status}")
