"""Our mistakes are not outages: asyncpg's InterfaceError covers both a dead connection and a
client-side mistake (a wrong argument count, a bad DSN option). Only the first is a 503 or a
start-up wait; the others surface as what they are, at once."""

from __future__ import annotations

import time

import asyncpg
import pytest

from todo_api.db.pool import DatabaseMisconfigured, DatabaseUnavailable, open_database
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio


async def test_a_wrong_argument_count_is_a_programming_error_not_an_outage(
    settings: Settings, database_url: str
) -> None:
    db = await open_database(settings, database_url)
    try:
        with pytest.raises(asyncpg.exceptions.InterfaceError) as raised:
            await db.fetchrow("SELECT $1::int", 1, 2)
        assert not isinstance(raised.value, DatabaseUnavailable)
        assert await db.fetchrow("SELECT 1") is not None  # and the pool is fine
    finally:
        await db.pool.close()


async def test_a_bad_connection_option_fails_start_up_at_once(
    settings: Settings, database_url: str
) -> None:
    sep = "&" if "?" in database_url else "?"
    bad = f"{database_url}{sep}sslmode=sometimes"
    patient = settings.model_copy(update={"db_connect_timeout": 30.0})
    started = time.monotonic()
    with pytest.raises(DatabaseMisconfigured, match="sslmode"):
        await open_database(patient, bad)
    assert time.monotonic() - started < 10  # not the 30 s an unreachable database gets


async def test_a_closed_connection_is_an_outage_and_retried_when_safe(
    settings: Settings, database_url: str
) -> None:
    db = await open_database(settings.model_copy(update={"db_pool_max": 1}), database_url)
    try:
        async with db.pool.acquire() as conn:
            pid = conn.get_server_pid()
        admin = await asyncpg.connect(database_url, statement_cache_size=0)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        assert await db.fetchrow("SELECT 1") is not None  # safe: run again on a new connection
    finally:
        await db.pool.close()
