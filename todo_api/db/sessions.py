"""Sessions and their refresh tokens: one async function per query in sql/session*.sql."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Database, Runner
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

SESSION_START = query("session_start")
SESSION_LOCK = query("session_lock")
SESSION_REFRESH = query("session_refresh")
SESSIONS_LIST = query("sessions_list")
SESSIONS_END = query("sessions_end")


@dataclass(frozen=True)
class Lifetimes:
    refresh_ttl_seconds: int
    session_max_seconds: int


@dataclass(frozen=True)
class Started:
    session_id: str
    refresh_expires_in: int  # seconds


@dataclass(frozen=True)
class LoginSubject:
    """The throttling count a successful login clears."""

    subject: str
    address: str


async def start_session(
    db: Runner,
    user_id: str,
    token_hash: bytes,
    lifetimes: Lifetimes,
    *,
    user_agent: str | None,
    login: LoginSubject | None = None,
) -> Started:
    row = await db.fetchrow(
        *SESSION_START(
            user_id=user_id,
            token_hash=token_hash,
            user_agent=user_agent,
            refresh_ttl_seconds=lifetimes.refresh_ttl_seconds,
            session_max_seconds=lifetimes.session_max_seconds,
            subject=login.subject if login else None,
            address=login.address if login else None,
        ),
        retry=False,
    )
    assert row is not None  # the insert always returns its row
    return Started(row["session_id"], row["refresh_expires_in"])


class Refreshed(enum.Enum):
    ROTATED = "rotated"
    INACTIVE = "inactive"
    REUSED = "reused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Refresh:
    outcome: Refreshed
    started: Started | None  # the session and its new token's life, when ROTATED
    user: asyncpg.Record | None  # the account, when ROTATED


async def refresh(db: Database, token_hash: bytes, new_hash: bytes, refresh_ttl: int) -> Refresh:
    """Spend a refresh token for a new one of its session: the session locked first (as
    everything that ends sessions locks it), then sql/session_refresh.sql."""
    async with db.transaction() as tx:
        await tx.fetchrow(*SESSION_LOCK(token_hash=token_hash))
        row = await tx.fetchrow(
            *SESSION_REFRESH(
                token_hash=token_hash, new_hash=new_hash, refresh_ttl_seconds=refresh_ttl
            )
        )
    assert row is not None  # one row always
    outcome = Refreshed(row["outcome"])
    if outcome is not Refreshed.ROTATED:
        return Refresh(outcome, None, None)
    return Refresh(outcome, Started(row["session_id"], row["refresh_expires_in"]), row)


async def list_sessions(db: Runner, caller: Caller) -> tuple[UserStatus, list[asyncpg.Record]]:
    records = await db.fetch(*SESSIONS_LIST(**caller.params))
    head = records[0]
    return status_of(head["is_active"], head["may_act"]), [r for r in records if r["id"]]


async def end_sessions(db: Runner, caller: Caller, target: str | None) -> tuple[UserStatus, int]:
    """End the caller's session `target`, or all of theirs (None); how many ended."""
    row = await db.fetchrow(*SESSIONS_END(**caller.params, target=target), retry=False)
    assert row is not None  # one row always
    return status_of(row["is_active"], row["may_act"]), row["ended"]
