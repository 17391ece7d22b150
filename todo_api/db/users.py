"""Users: one async function per query in sql/user_*.sql."""

from __future__ import annotations

import enum

import asyncpg

from todo_api.db.pool import Database
from todo_api.db.queries import query

_CONFLICT_FIELD = {"users_email_key": "email", "users_username_key": "username"}


class UserConflict(Exception):
    """The email or username is taken; `field` says which."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class UserStatus(enum.Enum):
    MISSING = "missing"
    INACTIVE = "inactive"
    ACTIVE = "active"


async def insert_user(
    db: Database, email: str, username: str, password_hash: str
) -> asyncpg.Record:
    try:
        row = await db.fetchrow(query("user_insert"), email, username, password_hash, retry=False)
    except asyncpg.UniqueViolationError as exc:
        raise UserConflict(_CONFLICT_FIELD.get(exc.constraint_name or "", "email")) from None
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row


async def get_user(db: Database, user_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(query("user_by_id"), user_id)


async def user_for_login(db: Database, login: str) -> asyncpg.Record | None:
    """The user whose email or username is `login`, case-insensitively, with the password hash."""
    return await db.fetchrow(query("user_for_login"), login)


async def user_status(db: Database, user_id: str) -> UserStatus:
    row = await db.fetchrow(query("user_is_active"), user_id)
    if row is None:
        return UserStatus.MISSING
    return UserStatus.ACTIVE if row["is_active"] else UserStatus.INACTIVE
