"""Login attempts and their throttling counts: sql/login_*.sql."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from todo_api.db.pool import Runner
from todo_api.db.queries import query
from todo_api.db.sessions import LoginSubject

LOGIN_ATTEMPT = query("login_attempt")
LOGIN_FAILURE_UNDO = query("login_failure_undo")
LOGIN_SUCCESS = query("login_success")
# From all addresses together an account may fail this many times the per-address limit.
EVERYWHERE_FACTOR = 10


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window_seconds: int


@dataclass(frozen=True)
class Attempt:
    account: asyncpg.Record | None  # with its password hash; None when the login names none
    counted: LoginSubject  # the failure counted for it (cleared on success, undone if not one)
    allowed: bool  # False: throttled, nothing counted and no password may be checked
    retry_after: int  # seconds, when not allowed


async def attempt(
    db: Runner,
    address: str,
    limits: Limits,
    *,
    login: str | None = None,
    user_id: str | None = None,
) -> Attempt:
    """An attempt at the account a `login` (email or username) names, or at the account
    `user_id` (a password confirmation), counted as a failure until cleared or undone."""
    row = await db.fetchrow(
        *LOGIN_ATTEMPT(
            login=login,
            user_id=user_id,
            address=address,
            window_seconds=limits.window_seconds,
            max_failures=limits.max_failures,
            max_everywhere=limits.max_failures * EVERYWHERE_FACTOR,
        ),
        retry=False,
    )
    assert row is not None  # one row always
    return Attempt(
        account=row if row["id"] is not None else None,
        counted=LoginSubject(row["subject"], address),
        allowed=row["allowed"],
        retry_after=row["retry_after"],
    )


async def undo_failure(db: Runner, counted: LoginSubject) -> None:
    await db.fetchrow(
        *LOGIN_FAILURE_UNDO(subject=counted.subject, address=counted.address), retry=False
    )


async def clear(db: Runner, counted: LoginSubject) -> None:
    """A right password: the count it was counted in goes, as a login's does."""
    await db.fetchrow(*LOGIN_SUCCESS(subject=counted.subject, address=counted.address))
