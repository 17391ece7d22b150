"""Tasks: one async function per query in sql/task*.sql. Every query is scoped by user_id in SQL
and returns nothing unless that user exists and is active."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from todo_api.db.pool import Database
from todo_api.db.queries import query

# The column each sort orders by; a cursor holds the last row's value of it.
SORT_KEY: Final = {"created": "created_at", "updated": "updated_at", "title": "title"}


class _Unset:
    """Marks a field a PUT did not give, as opposed to one given as null."""


UNSET: Final = _Unset()


@dataclass(frozen=True)
class Page:
    owner_active: bool | None  # None: no such user
    total: int
    rows: list[asyncpg.Record]
    has_more: bool


def like_pattern(text: str) -> str:
    """A LIKE pattern that matches `text` literally anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def insert_task(
    db: Database, user_id: str, title: str, description: str | None, completed: bool
) -> asyncpg.Record | None:
    return await db.fetchrow(
        query("task_insert"), user_id, title, description, completed, retry=False
    )


async def get_task(db: Database, user_id: str, task_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(query("task_get"), user_id, task_id)


async def update_task(
    db: Database,
    user_id: str,
    task_id: int,
    *,
    title: str | _Unset = UNSET,
    description: str | _Unset | None = UNSET,
    completed: bool | None = None,
) -> asyncpg.Record | None:
    """Change the given fields in one statement; completed=None leaves it alone."""
    return await db.fetchrow(
        query("task_update"),
        user_id,
        task_id,
        not isinstance(title, _Unset),
        None if isinstance(title, _Unset) else title,
        not isinstance(description, _Unset),
        None if isinstance(description, _Unset) else description,
        completed,
    )


async def set_completed(
    db: Database, user_id: str, task_id: int, completed: bool | None
) -> asyncpg.Record | None:
    """Set completed, or flip it when `completed` is None (a flip is not safe to repeat)."""
    return await db.fetchrow(
        query("task_set_completed"), user_id, task_id, completed, retry=completed is not None
    )


async def delete_task(db: Database, user_id: str, task_id: int) -> bool:
    return await db.fetchrow(query("task_delete"), user_id, task_id, retry=False) is not None


async def list_tasks(
    db: Database,
    user_id: str,
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
    records = await db.fetch(
        query(f"tasks_page_{sort}_{order}"), user_id, completed, pattern, limit + 1, key, last_id
    )
    head = records[0]
    rows = [r for r in records if r["id"] is not None]
    return Page(
        owner_active=head["is_active"],
        total=head["total"],
        rows=rows[:limit],
        has_more=len(rows) > limit,
    )
