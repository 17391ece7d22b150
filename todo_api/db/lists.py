"""Lists: one async function per query in sql/list*.sql. Every query is scoped by the caller's
user_id in SQL and returns nothing unless the caller rule (sql/_caller.sql) lets them act; a
list of another user's is simply not found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Runner
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

LISTS_ALL = query("lists_all")
LIST_GET = query("list_get")
LIST_INSERT = query("list_insert")
LIST_CHANGE = query("list_change")
LIST_DELETE = query("list_delete")

# What migration 0007's trigger lists_05_position allows a user.
MAX_LISTS: Final = 200


class NameTaken(Exception):
    """Another list of the caller's has this name (case-insensitively)."""


class TooManyLists(Exception):
    """The caller has MAX_LISTS lists already."""


class MoveRefused(Exception):
    """`after` names the moved list itself, or no list of the caller's."""


def _versions(if_match: Sequence[int] | None) -> list[int] | None:
    return None if if_match is None else list(if_match)


async def all_lists(db: Runner, caller: Caller) -> tuple[UserStatus, list[asyncpg.Record]]:
    """The caller's lists in their manual order, with their counts."""
    records = await db.fetch(*LISTS_ALL(**caller.params))
    head = records[0]
    rows = [r for r in records if r["id"] is not None]
    return status_of(head["is_active"], head["may_act"]), rows


async def get_list(db: Runner, caller: Caller, list_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(*LIST_GET(**caller.params, list_id=list_id))


async def insert_list(db: Runner, caller: Caller, name: str) -> asyncpg.Record | None:
    """The new list, at the bottom; None when the caller may not act."""
    try:
        return await db.fetchrow(*LIST_INSERT(**caller.params, name=name), retry=False)
    except asyncpg.UniqueViolationError:
        raise NameTaken from None
    except asyncpg.ProgramLimitExceededError:
        raise TooManyLists from None


@dataclass(frozen=True)
class Move:
    """Where a list goes: right after list `after_id` (None: first)."""

    after_id: int | None


async def change_list(
    db: Runner,
    caller: Caller,
    list_id: int,
    *,
    name: str | None = None,
    move: Move | None = None,
    if_match: Sequence[int] | None = None,
) -> asyncpg.Record | None:
    """Rename the list (`name`) or move it; the changed list, or None when there is no such
    list of the caller's (or If-Match named none of its versions, or the caller may not act).
    NameTaken when another of their lists has the name; MoveRefused when `move.after_id` is the
    list itself or not the caller's."""
    statement = LIST_CHANGE(
        **caller.params,
        list_id=list_id,
        name=name,
        move=move is not None,
        after_id=None if move is None else move.after_id,
        if_match=_versions(if_match),
    )
    try:
        return await db.fetchrow(*statement, retry=if_match is None)
    except asyncpg.UniqueViolationError:
        raise NameTaken from None
    except asyncpg.NoDataFoundError:
        raise MoveRefused from None


async def delete_list(
    db: Runner, caller: Caller, list_id: int, *, if_match: Sequence[int] | None = None
) -> bool:
    """Delete a list that is not the default one, with its tasks; False when nothing was
    deleted (see sql/list_delete.sql for why it may not be)."""
    statement = LIST_DELETE(**caller.params, list_id=list_id, if_match=_versions(if_match))
    return await db.fetchrow(*statement, retry=False) is not None
