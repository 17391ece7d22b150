"""Account changes that start a session in the same transaction as the change, so a failed
request leaves neither an account without its session nor a session of a change undone."""

from __future__ import annotations

import asyncpg

from todo_api.caller import Caller
from todo_api.db import sessions, users
from todo_api.db.pool import Database


async def register(
    db: Database,
    user: users.NewUser,
    token_hash: bytes,
    lifetimes: sessions.Lifetimes,
    user_agent: str | None,
) -> tuple[asyncpg.Record, sessions.Started]:
    """Insert the account and start its first session; UserConflict when its email or given
    username is taken. Registrations deriving a username from one base take turns (a lock held
    to commit), so each sees the names the others took; one taken by any other way between the
    look and the insert costs the transaction: it is run again, and derives another."""
    for _ in range(users.DERIVED_NAME_ATTEMPTS):
        try:
            async with db.transaction() as tx:
                if user.username is None:
                    await users.lock_derived_username(tx, user.base_username)
                row = await users.insert_user(tx, user)
                started = await sessions.start_session(
                    tx, row["id"], token_hash, lifetimes, user_agent=user_agent
                )
                return row, started
        except users.UserConflict as conflict:
            if conflict.field != "username" or user.username is not None:
                raise
    raise users.UserConflict("username")


async def change_password(
    db: Database,
    caller: Caller,
    password_hash: str,
    token_hash: bytes,
    lifetimes: sessions.Lifetimes,
    user_agent: str | None,
) -> tuple[asyncpg.Record, sessions.Started] | None:
    """Set the password, end every session of the caller's and start a new one; None (and
    nothing changed) when the caller may not act."""
    async with db.transaction() as tx:
        row = await users.set_password(tx, caller, password_hash)
        if row is None:
            return None
        started = await sessions.start_session(
            tx, row["id"], token_hash, lifetimes, user_agent=user_agent
        )
        return row, started
