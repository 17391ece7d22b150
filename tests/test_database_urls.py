"""Hosted PostgreSQL URLs: what asyncpg and yoyo each get, and the pooler detection."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from todo_api.db.pool import (
    asyncpg_dsn,
    behind_a_pooler,
    masked,
    statement_cache_usable,
    yoyo_url,
)
from todo_api.settings import Settings

NEON = (
    "postgresql://alex:AbC123@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb"
    "?sslmode=require&channel_binding=require"
)


def test_asyncpg_gets_no_channel_binding() -> None:
    dsn = asyncpg_dsn(NEON)
    assert "channel_binding" not in dsn
    assert "sslmode=require" in dsn
    assert dsn.startswith("postgresql://alex:AbC123@ep-cool")


def test_yoyo_gets_psycopg_and_every_parameter() -> None:
    url = yoyo_url(NEON)
    assert url.startswith("postgresql+psycopg://")
    assert "channel_binding=require" in url and "sslmode=require" in url


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg", "postgresql+asyncpg"])
def test_scheme_spellings_are_normalised(scheme: str) -> None:
    assert asyncpg_dsn(f"{scheme}://u@h/db").startswith("postgresql://")


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="postgresql"):
        asyncpg_dsn("mysql://u@h/db")


def test_password_is_masked() -> None:
    assert "AbC123" not in masked(NEON)
    assert masked("postgresql://u@h/db") == "postgresql://u@h/db"


@pytest.mark.anyio
async def test_statement_cache_is_decided_by_the_connection(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=NEON, data_dir=tmp_path, jwt_secret="s" * 32)
    conn = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        direct = not await behind_a_pooler(conn)
        assert await statement_cache_usable(settings, database_url, conn) is direct
        # Neon's pooled host names say so, whatever the connection shows.
        assert await statement_cache_usable(settings, NEON, conn) is False
        for forced in (True, False):
            chosen = settings.model_copy(update={"db_statement_cache": forced})
            assert await statement_cache_usable(chosen, NEON, conn) is forced
    finally:
        await conn.close()


@pytest.mark.anyio
async def test_channel_binding_url_connects_to_a_real_server(database_url: str) -> None:
    sep = "&" if "?" in database_url else "?"
    conn = await asyncpg.connect(asyncpg_dsn(f"{database_url}{sep}channel_binding=prefer"))
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
