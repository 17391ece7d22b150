"""The change feed: one statement (sql/sync_changes.sql) reads a page of a user's changes
after a position; migration 0004 says why no change is ever missed."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Database
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

SYNC_CHANGES = query("sync_changes")


@dataclass(frozen=True)
class ChangePage:
    owner: UserStatus
    rows: list[asyncpg.Record]  # at most `limit`, in change order
    more: bool


async def changes_after(
    db: Database,
    caller: Caller,
    *,
    change_seq: int,
    task_id: int,
    limit: int,
    history_days: int,
) -> ChangePage:
    statement = SYNC_CHANGES(
        **caller.params,
        after_seq=change_seq,
        after_id=task_id,
        limit=limit + 1,
        history_days=history_days,
    )
    records = await db.fetch(*statement)
    head = records[0]
    rows = [r for r in records if r["id"] is not None]
    return ChangePage(
        owner=status_of(head["is_active"], head["may_act"]),
        rows=rows[:limit],
        more=len(rows) > limit,
    )
