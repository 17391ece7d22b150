"""Live events: tickets, the claims of open streams, the per-process poll for news, a stream's
reminder events, and the firing of reminders. One async function per query in sql/events_*.sql.
The stream's task events are the change feed's (db/sync.py), read with its own function."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Database, Runner
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of
from todo_api.sync_tokens import FeedPosition

TICKET_CREATE = query("events_ticket_create")
TICKET_REDEEM = query("events_ticket_redeem")
STREAM_LOCK = query("events_stream_lock")
STREAM_CLAIM = query("events_stream_claim")
STREAM_RENEW = query("events_stream_renew")
STREAM_RELEASE = query("events_stream_release")
HEADS = query("events_heads")
REMINDERS_AFTER = query("events_reminders_after")
FIRE_LOCK = query("events_fire_lock")
FIRE = query("events_fire")
RECORD_REMINDERS = query("events_record_reminders")
PURGE = query("events_purge")


async def create_ticket(
    db: Runner, caller: Caller, ticket_hash: bytes, ttl_seconds: float
) -> datetime | None:
    """Keep a ticket's hash for the caller's session; its expiry, or None when the caller rule
    refuses the caller."""
    row = await db.fetchrow(
        *TICKET_CREATE(**caller.params, ticket_hash=ticket_hash, ttl_seconds=ttl_seconds),
        retry=False,
    )
    return None if row is None else row["expires_at"]


class TicketRefused(Exception):
    """Used, expired, unknown, or another user's."""


@dataclass(frozen=True)
class Opening:
    """What opening a stream found: the caller's status, whether a place was claimed, and where
    the user's change feed and reminder events stand."""

    caller: Caller
    status: UserStatus
    claimed: bool
    feed_head: FeedPosition
    reminder_head: int


class _RollBack(Exception):
    def __init__(self, opening: Opening) -> None:
        self.opening = opening


async def open_stream(
    db: Database,
    caller: Caller | None,
    *,
    user_id: str,
    ticket_hash: bytes | None,
    stream_id: uuid.UUID,
    max_streams: int,
    claim_seconds: float,
) -> Opening:
    """In one transaction: use the ticket (when there is no token: `caller` None), then claim a
    place among the user's `max_streams` under their row lock. A refusal (every place taken, or
    the caller refused) rolls everything back, the ticket's use included. TicketRefused for a
    bad ticket."""
    try:
        async with db.transaction() as tx:
            if caller is None:
                used = await tx.fetchrow(*TICKET_REDEEM(ticket_hash=ticket_hash, user_id=user_id))
                if used is None:
                    raise TicketRefused
                caller = Caller(user_id, used["session_id"], used["token_id"], scope="read")
            await tx.fetchrow(*STREAM_LOCK(user_id=caller.user_id))
            row = await tx.fetchrow(
                *STREAM_CLAIM(
                    **caller.params,
                    stream_id=stream_id,
                    max_streams=max_streams,
                    claim_seconds=claim_seconds,
                )
            )
            assert row is not None  # one row always
            opening = Opening(
                caller=caller,
                status=status_of(row["is_active"], row["may_act"]),
                claimed=row["claimed"],
                feed_head=FeedPosition(row["feed_seq"] or 0, row["feed_id"] or 0),
                reminder_head=row["reminder_id"],
            )
            if not opening.claimed:
                raise _RollBack(opening)
    except _RollBack as refused:
        return refused.opening
    return opening


async def renew_stream(
    db: Runner, caller: Caller, stream_id: uuid.UUID, claim_seconds: float
) -> bool:
    """Renew a stream's claim; False when the caller rule refuses the caller now (or the claim
    is gone): the stream must end."""
    row = await db.fetchrow(
        *STREAM_RENEW(**caller.params, stream_id=stream_id, claim_seconds=claim_seconds)
    )
    return row is not None


async def release_stream(db: Runner, stream_id: uuid.UUID) -> None:
    await db.fetchrow(*STREAM_RELEASE(stream_id=stream_id))


@dataclass(frozen=True)
class Heads:
    user_id: str
    feed_seq: int
    reminder_id: int


async def news(db: Runner, known: Sequence[Heads]) -> list[Heads]:
    """Of the users in `known`, those whose change feed or reminder events moved past what is
    known of them, with where each stands now. One statement for all of them."""
    rows = await db.fetch(
        *HEADS(
            user_ids=[k.user_id for k in known],
            feed_seqs=[k.feed_seq for k in known],
            reminder_ids=[k.reminder_id for k in known],
        )
    )
    return [Heads(r["user_id"], r["feed_seq"] or 0, r["reminder_id"] or 0) for r in rows]


@dataclass(frozen=True)
class ReminderPage:
    owner: UserStatus
    events: list[tuple[int, str]]  # (number, the event's data as JSON text), in number order


async def reminders_after(db: Runner, caller: Caller, after_id: int, limit: int) -> ReminderPage:
    records = await db.fetch(*REMINDERS_AFTER(**caller.params, after_id=after_id, limit=limit))
    head = records[0]
    return ReminderPage(
        owner=status_of(head["is_active"], head["may_act"]),
        events=[(r["id"], r["data"]) for r in records if r["id"] is not None],
    )


# A fired reminder's task row (as it is now, with `fired_at`) -> the event's data as JSON text.
RenderReminder = Callable[[asyncpg.Record], str]


@dataclass(frozen=True)
class Firing:
    owners: int  # owners locked (0: nothing due, or every due owner busy elsewhere)
    fired: int  # reminders fired


async def fire_reminders(db: Database, batch: int, render: RenderReminder) -> Firing:
    """Fire up to `batch` due reminders in one transaction: lock the owners of the earliest due
    (skipping those another process is firing), claim their earliest due reminders (moving each
    task's next_reminder_at on) and record each as an event. Exactly once follows: the claim
    and the record commit together or not at all."""
    async with db.transaction() as tx:
        owners = await tx.fetch(*FIRE_LOCK(batch=batch))
        if not owners:
            return Firing(0, 0)
        fired = await tx.fetch(*FIRE(user_ids=[o["id"] for o in owners], batch=batch))
        if fired:
            await tx.fetchrow(
                *RECORD_REMINDERS(
                    user_ids=[r["user_id"] for r in fired],
                    task_ids=[r["id"] for r in fired],
                    fires_at=[r["fired_at"] for r in fired],
                    data=[render(r) for r in fired],
                )
            )
        return Firing(len(owners), len(fired))


async def purge_reminder_events(db: Runner) -> None:
    await db.fetchrow(*PURGE(), retry=False)
