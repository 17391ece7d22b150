"""Transaction poolers (PgBouncer, Supavisor, Neon's): found out from the connection itself with
no setting, and a prepared statement that the server side lost never reaches a client. The
whole suite also runs through Debian's PgBouncer in transaction mode on 127.0.0.1 (.ci/run)."""

from __future__ import annotations

import asyncpg
import pytest

from todo_api.db.pool import Database, open_database
from todo_api.db.queries import query
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio
PING = query("ping")


async def test_a_lost_prepared_statement_turns_the_cache_off_and_is_retried(
    settings: Settings, database_url: str
) -> None:
    """The server forgets the statements (as a pooler's other server connection never knew
    them): the next call meets `prepared statement ... does not exist`, which the Database
    answers by turning the cache off and running the statement again."""
    cached = settings.model_copy(update={"db_statement_cache": True, "db_pool_max": 1})
    db: Database = await open_database(cached, database_url)
    try:
        assert db.statement_cache
        await db.fetchrow(*PING())
        async with db.pool.acquire() as conn:
            await conn.execute("DEALLOCATE ALL")
        assert await db.fetchrow(*PING()) is not None
        assert not db.statement_cache
        async with db.pool.acquire() as conn:  # connections made from now on cache nothing
            await conn.fetchval("SELECT 1")
            assert conn._stmt_cache.get_max_size() == 0
    finally:
        await db.pool.close()


async def test_a_direct_connection_keeps_its_statement_cache(
    settings: Settings, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        pooled = conn.get_server_pid() != await conn.fetchval("SELECT pg_backend_pid()")
    finally:
        await conn.close()
    automatic = settings.model_copy(update={"db_statement_cache": None})
    db = await open_database(automatic, database_url)
    try:
        assert db.statement_cache is not pooled
    finally:
        await db.pool.close()
