"""Users: one async function per query in sql/user_*.sql."""

from __future__ import annotations

import enum

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Runner
from todo_api.db.queries import query

USER_INSERT = query("user_insert")
USER_BY_ID = query("user_by_id")
USER_FOR_LOGIN = query("user_for_login")
USER_IS_ACTIVE = query("user_is_active")

_CONFLICT_FIELD = {"users_email_key": "email", "users_username_key": "username"}


class UserConflict(Exception):
    """The email or username is taken; `field` says which."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class UserStatus(enum.Enum):
    """What the caller rule (sql/_caller.sql) says of a token's user."""

    MISSING = "missing"
    INACTIVE = "inactive"
    REFUSED = "refused"  # active, but the rule refuses this caller (e.g. an ended session)
    ACTIVE = "active"


def status_of(is_active: bool | None, may_act: bool | None) -> UserStatus:
    """The status from a row's `is_active` and `{{caller}} AS may_act` (NULL: no such user)."""
    if is_active is None:
        return UserStatus.MISSING
    if not is_active:
        return UserStatus.INACTIVE
    return UserStatus.ACTIVE if may_act else UserStatus.REFUSED


async def insert_user(db: Runner, email: str, username: str, password_hash: str) -> asyncpg.Record:
    try:
        row = await db.fetchrow(
            *USER_INSERT(email=email, username=username, password_hash=password_hash),
            retry=False,
        )
    except asyncpg.UniqueViolationError as exc:
        raise UserConflict(_CONFLICT_FIELD.get(exc.constraint_name or "", "email")) from None
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row


async def get_user(db: Runner, user_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(*USER_BY_ID(user_id=user_id))


async def user_for_login(db: Runner, login: str) -> asyncpg.Record | None:
    """The user whose email or username is `login`, case-insensitively, with the password hash."""
    return await db.fetchrow(*USER_FOR_LOGIN(login=login))


async def user_status(db: Runner, caller: Caller) -> UserStatus:
    row = await db.fetchrow(*USER_IS_ACTIVE(**caller.params))
    if row is None:
        return UserStatus.MISSING
    return status_of(row["is_active"], row["may_act"])
