"""Whether the database answers."""

from __future__ import annotations

from todo_api.db.pool import Database
from todo_api.db.queries import query


async def ping(db: Database) -> None:
    await db.fetchrow(query("ping"))
