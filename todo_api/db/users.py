"""Users: one async function per query in sql/user_*.sql."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Runner
from todo_api.db.queries import query

USER_INSERT = query("user_insert")
USER_INSERT_EXTERNAL = query("user_insert_external")
USER_BY_ID = query("user_by_id")
USER_IS_ACTIVE = query("user_is_active")
USER_UPDATE = query("user_update")
USER_DELETE = query("user_delete")
USER_SET_PASSWORD = query("user_set_password")
USERNAME_LOCK = query("username_lock")

_CONFLICT_FIELD = {"users_email_key": "email", "users_username_key": "username"}
# How often a derived username is tried again after a concurrent insert took it first.
DERIVED_NAME_ATTEMPTS = 5


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


def _conflict(exc: asyncpg.UniqueViolationError) -> UserConflict:
    return UserConflict(_CONFLICT_FIELD.get(exc.constraint_name or "", "email"))


@dataclass(frozen=True)
class NewUser:
    email: str
    username: str | None  # None: derived from base_username
    base_username: str
    password_hash: str
    name: str | None


async def insert_user(db: Runner, user: NewUser) -> asyncpg.Record:
    """Insert the account; UserConflict when its email or username is taken (a derived one
    too: a concurrent insert can take it between the look and the insert)."""
    try:
        row = await db.fetchrow(
            *USER_INSERT(
                email=user.email,
                username=user.username,
                base_username=user.base_username,
                password_hash=user.password_hash,
                name=user.name,
            ),
            retry=False,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from None
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row


async def lock_derived_username(tx: Runner, base_username: str) -> None:
    """Take the turn of registrations deriving a username from this base, until commit."""
    await tx.fetchrow(*USERNAME_LOCK(base_username=base_username), retry=False)


async def ensure_external_user(
    db: Runner, user_id: str, email: str | None, base_username: str, name: str | None
) -> None:
    """Make the account of a trusted issuer's `sub` unless it exists. A race with a concurrent
    first request (on the id, the email or the derived username) is settled by trying again."""
    for _ in range(DERIVED_NAME_ATTEMPTS):
        made = await db.fetchrow(
            *USER_INSERT_EXTERNAL(id=user_id, email=email, base_username=base_username, name=name),
            retry=False,
        )
        if made is not None or await db.fetchrow(*USER_IS_ACTIVE(**Caller(user_id).params)):
            return


async def get_user(db: Runner, caller: Caller) -> tuple[UserStatus, asyncpg.Record]:
    """The caller's account (with its password hash) and what the caller rule says of them."""
    row = await db.fetchrow(*USER_BY_ID(**caller.params))
    assert row is not None  # one row always
    return status_of(row["is_active"], row["may_act"]), row


async def user_status(db: Runner, caller: Caller) -> UserStatus:
    row = await db.fetchrow(*USER_IS_ACTIVE(**caller.params))
    if row is None:
        return UserStatus.MISSING
    return status_of(row["is_active"], row["may_act"])


@dataclass(frozen=True)
class UserChanges:
    username: str | None  # None: unchanged
    set_name: bool
    name: str | None
    email: str | None  # None: unchanged
    time_zone: str | None = None  # None: unchanged


async def update_user(db: Runner, caller: Caller, changes: UserChanges) -> asyncpg.Record | None:
    """The updated account; None when the caller may not act; UserConflict on a taken value."""
    try:
        return await db.fetchrow(
            *USER_UPDATE(
                **caller.params,
                username=changes.username,
                set_name=changes.set_name,
                name=changes.name,
                email=changes.email,
                time_zone=changes.time_zone,
            ),
            retry=False,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _conflict(exc) from None


async def delete_user(db: Runner, caller: Caller) -> bool:
    """Delete the caller's account and everything of it; False when the caller may not act."""
    return await db.fetchrow(*USER_DELETE(**caller.params), retry=False) is not None


async def set_password(db: Runner, caller: Caller, password_hash: str) -> asyncpg.Record | None:
    """Set the password and end every session of the caller's; None when they may not act."""
    return await db.fetchrow(
        *USER_SET_PASSWORD(**caller.params, password_hash=password_hash), retry=False
    )
