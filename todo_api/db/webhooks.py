"""Webhooks: one async function per query in sql/webhook*.sql. The routes' statements act for
a caller (sql/_caller.sql) on that caller's webhooks only; the delivery worker's claim, record
and release deliveries of every user (migration 0013 says how the outbox is written)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Database, Runner
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

WEBHOOK_OWNER_LOCK = query("webhook_owner_lock")
WEBHOOK_INSERT = query("webhook_insert")
WEBHOOKS_LIST = query("webhooks_list")
WEBHOOK_GET = query("webhook_get")
WEBHOOK_UPDATE = query("webhook_update")
WEBHOOK_SECRET = query("webhook_secret")
WEBHOOK_DELETE = query("webhook_delete")
WEBHOOK_DELIVERIES = query("webhook_deliveries")
WEBHOOK_DELIVERIES_CLAIM = query("webhook_deliveries_claim")
WEBHOOK_ATTEMPT_DONE = query("webhook_attempt_done")
WEBHOOK_CLAIMS_RELEASE = query("webhook_claims_release")
WEBHOOK_DELIVERIES_PURGE = query("webhook_deliveries_purge")


class TooManyWebhooks(Exception):
    """The caller has as many webhooks as a user may."""


@dataclass(frozen=True)
class Owned:
    """What a statement returning the caller's status first found."""

    owner: UserStatus
    rows: list[asyncpg.Record]
    found: bool = True  # the webhook named exists and is the caller's


async def insert_webhook(
    db: Database,
    caller: Caller,
    *,
    url: str,
    events: Sequence[str],
    description: str | None,
    secret: str,
    max_webhooks: int,
) -> tuple[UserStatus, asyncpg.Record | None]:
    """Add a webhook under the user's row lock; TooManyWebhooks at the limit."""
    async with db.transaction() as tx:
        lock = await tx.fetchrow(*WEBHOOK_OWNER_LOCK(**caller.params))
        status = UserStatus.MISSING if lock is None else status_of(*lock)
        if status is not UserStatus.ACTIVE:
            return status, None
        row = await tx.fetchrow(
            *WEBHOOK_INSERT(
                **caller.params,
                url=url,
                events=list(events),
                description=description,
                secret=secret,
                max_webhooks=max_webhooks,
            )
        )
        if row is None:
            raise TooManyWebhooks
        return status, row


async def list_webhooks(db: Database, caller: Caller) -> Owned:
    records = await db.fetch(*WEBHOOKS_LIST(**caller.params))
    head = records[0]
    return Owned(
        status_of(head["is_active"], head["may_act"]), [r for r in records if r["id"] is not None]
    )


async def get_webhook(db: Runner, caller: Caller, webhook_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(*WEBHOOK_GET(**caller.params, webhook_id=webhook_id))


async def update_webhook(
    db: Runner,
    caller: Caller,
    webhook_id: int,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    set_description: bool = False,
    description: str | None = None,
    active: bool | None = None,
) -> asyncpg.Record | None:
    statement = WEBHOOK_UPDATE(
        **caller.params,
        webhook_id=webhook_id,
        url=url,
        events=None if events is None else list(events),
        set_description=set_description,
        description=description,
        active=active,
    )
    return await db.fetchrow(*statement, retry=False)


async def rotate_secret(
    db: Runner, caller: Caller, webhook_id: int, secret: str
) -> asyncpg.Record | None:
    statement = WEBHOOK_SECRET(**caller.params, webhook_id=webhook_id, secret=secret)
    return await db.fetchrow(*statement, retry=False)


async def delete_webhook(db: Runner, caller: Caller, webhook_id: int) -> bool:
    row = await db.fetchrow(*WEBHOOK_DELETE(**caller.params, webhook_id=webhook_id))
    return row is not None


async def list_deliveries(db: Database, caller: Caller, webhook_id: int, limit: int) -> Owned:
    statement = WEBHOOK_DELIVERIES(**caller.params, webhook_id=webhook_id, limit=limit)
    records = await db.fetch(*statement)
    head = records[0]
    return Owned(
        status_of(head["is_active"], head["may_act"]),
        [r for r in records if r["id"] is not None],
        found=head["webhook_found"] is not None,
    )


# The delivery worker's side.


async def claim_deliveries(
    db: Database, claim: uuid.UUID, batch: int, claim_seconds: float
) -> list[asyncpg.Record]:
    """Up to `batch` due deliveries, claimed for `claim_seconds` under `claim`."""
    statement = WEBHOOK_DELIVERIES_CLAIM(batch=batch, claim_seconds=claim_seconds, claim=claim)
    return await db.fetch(*statement, retry=False)


@dataclass(frozen=True)
class Outcome:
    """How one attempt went."""

    delivered: bool
    status_code: int | None  # None: no answer came
    error: str | None


async def record_attempt(
    db: Database,
    claim: uuid.UUID,
    delivery: asyncpg.Record,
    outcome: Outcome,
    *,
    delays: Sequence[float],
    disable_after: int,
) -> None:
    statement = WEBHOOK_ATTEMPT_DONE(
        webhook_id=delivery["webhook_id"],
        delivery_id=delivery["delivery_id"],
        claim=claim,
        delivered=outcome.delivered,
        status_code=outcome.status_code,
        error=outcome.error,
        delays=list(delays),
        disable_after=disable_after,
    )
    # Safe to repeat: a second run finds the claim gone and changes nothing.
    await db.fetch(*statement)


async def release_claims(db: Database, claim: uuid.UUID) -> None:
    await db.fetch(*WEBHOOK_CLAIMS_RELEASE(claim=claim))


async def purge_deliveries(db: Database, keep_days: int, batch: int) -> None:
    await db.fetch(*WEBHOOK_DELIVERIES_PURGE(keep_days=keep_days, batch=batch))
