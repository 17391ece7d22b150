"""Does the database's schema fit this version's SQL? Every statement in sql/ is prepared
(parsed and planned, never run) once at start: a missing table or column, a type that changed
under us, or migrations left unapplied show up as one clear line before the first request,
instead of as 500s later."""

from __future__ import annotations

import asyncpg

from todo_api.db.pool import asyncpg_dsn
from todo_api.db.queries import QUERIES
from todo_api.settings import Settings


class SchemaDrift(Exception):
    """A statement of this version does not fit the database's schema."""


async def check_schema(settings: Settings, url: str) -> None:
    conn = await asyncpg.connect(
        asyncpg_dsn(url), timeout=settings.db_request_timeout, statement_cache_size=0
    )
    try:
        # One transaction: behind a transaction pooler, every prepare meets the same backend.
        async with conn.transaction():
            for name, statement in QUERIES.items():
                try:
                    await conn.prepare(statement.sql)
                except asyncpg.PostgresError as exc:
                    raise SchemaDrift(
                        f"the database schema does not fit this version (sql/{name}.sql: {exc}); "
                        "run `todo-api migrate`, or check what changed the schema"
                    ) from None
    finally:
        await conn.close()
