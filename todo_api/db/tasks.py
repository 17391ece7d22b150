"""Tasks: one async function per query in sql/task*.sql. Every query is scoped by the caller's
user_id in SQL and returns nothing unless the caller rule (sql/_caller.sql) lets them act."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Database
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

TASK_INSERT = query("task_insert")
TASK_GET = query("task_get")
TASK_UPDATE = query("task_update")
TASK_SET_COMPLETED = query("task_set_completed")
TASK_DELETE = query("task_delete")
PAGES = {
    (sort, order): query(f"tasks_page_{sort}_{order}")
    for sort in ("created", "updated", "title")
    for order in ("asc", "desc")
}

# The column each sort orders by; a cursor holds the last row's value of it.
SORT_KEY: Final = {"created": "created_at", "updated": "updated_at", "title": "title"}


class _Unset:
    """Marks a field a PUT did not give, as opposed to one given as null."""


UNSET: Final = _Unset()


@dataclass(frozen=True)
class Page:
    owner: UserStatus
    total: int
    rows: list[asyncpg.Record]
    has_more: bool


def like_pattern(text: str) -> str:
    """A LIKE pattern that matches `text` literally anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def insert_task(
    db: Database, caller: Caller, title: str, description: str | None, completed: bool
) -> asyncpg.Record | None:
    statement = TASK_INSERT(
        **caller.params, title=title, description=description, completed=completed
    )
    return await db.fetchrow(*statement, retry=False)


async def get_task(db: Database, caller: Caller, task_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(*TASK_GET(**caller.params, task_id=task_id))


async def update_task(
    db: Database,
    caller: Caller,
    task_id: int,
    *,
    title: str | _Unset = UNSET,
    description: str | _Unset | None = UNSET,
    completed: bool | None = None,
) -> asyncpg.Record | None:
    """Change the given fields in one statement; completed=None leaves it alone."""
    statement = TASK_UPDATE(
        **caller.params,
        task_id=task_id,
        set_title=not isinstance(title, _Unset),
        title=None if isinstance(title, _Unset) else title,
        set_description=not isinstance(description, _Unset),
        description=None if isinstance(description, _Unset) else description,
        completed=completed,
    )
    return await db.fetchrow(*statement)


async def set_completed(
    db: Database, caller: Caller, task_id: int, completed: bool | None
) -> asyncpg.Record | None:
    """Set completed, or flip it when `completed` is None (a flip is not safe to repeat)."""
    statement = TASK_SET_COMPLETED(**caller.params, task_id=task_id, completed=completed)
    return await db.fetchrow(*statement, retry=completed is not None)


async def delete_task(db: Database, caller: Caller, task_id: int) -> bool:
    statement = TASK_DELETE(**caller.params, task_id=task_id)
    return await db.fetchrow(*statement, retry=False) is not None


async def list_tasks(
    db: Database,
    caller: Caller,
    *,
    completed: bool | None,
    search: str | None,
    sort: str,
    order: str,
    limit: int,
    after: tuple[datetime | str, int] | None,
) -> Page:
    """One keyset page: the rows after `after` (the last row's sort key and id) in this order."""
    key, last_id = after if after is not None else (None, None)
    pattern = like_pattern(search) if search else None
    statement = PAGES[sort, order](
        **caller.params,
        completed=completed,
        pattern=pattern,
        limit=limit + 1,
        after_key=key,
        after_id=last_id,
    )
    records = await db.fetch(*statement)
    head = records[0]
    rows = [r for r in records if r["id"] is not None]
    return Page(
        owner=status_of(head["is_active"], head["may_act"]),
        total=head["total"],
        rows=rows[:limit],
        has_more=len(rows) > limit,
    )
