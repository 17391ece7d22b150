"""Whether the database answers."""

from __future__ import annotations

from todo_api.db.pool import Database
from todo_api.db.queries import query

PING = query("ping")


async def ping(db: Database) -> None:
    await db.fetchrow(*PING())
