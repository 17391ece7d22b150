"""The asyncpg pool, and the URL rules that make hosted PostgreSQL (Neon, PgBouncer) work."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from todo_api.settings import Settings

# libpq understands these; asyncpg would send them to the server as settings, which fails.
_LIBPQ_ONLY_PARAMS = frozenset({"channel_binding"})
_SCHEMES = (
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+asyncpg",
    "postgresql+psycopg2",
)
# Idle connections are closed before typical server or proxy idle cut-offs (Neon, PgBouncer: 5 min).
MAX_IDLE_SECONDS = 240.0

Pool = asyncpg.Pool


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


def _split(url: str) -> tuple[str, str, str, list[tuple[str, str]], str]:
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError("DATABASE_URL must start with postgresql://")
    return parts.scheme, parts.netloc, parts.path, parse_qsl(parts.query), parts.fragment


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg wants it: plain scheme, libpq-only parameters removed."""
    _, netloc, path, query, _ = _split(url)
    kept = [(k, v) for k, v in query if k not in _LIBPQ_ONLY_PARAMS]
    return urlunsplit(("postgresql", netloc, path, urlencode(kept), ""))


def yoyo_url(url: str) -> str:
    """The URL as yoyo wants it: the psycopg 3 driver, parameters kept (libpq knows them all)."""
    _, netloc, path, query, _ = _split(url)
    return urlunsplit(("postgresql+psycopg", netloc, path, urlencode(query), ""))


def masked(url: str) -> str:
    """The URL with its password replaced, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def statement_cache_size(settings: Settings, url: str) -> int:
    """Prepared statements break behind a transaction pooler, so the cache is off there."""
    enabled = settings.db_statement_cache
    if enabled is None:
        host = urlsplit(url).hostname or ""
        enabled = "-pooler" not in host
    return 100 if enabled else 0


async def create_pool(settings: Settings, url: str) -> Pool:
    """Open the pool. Connections are made lazily after the first, so a down database at start
    is reported at once, and a database that goes away later is reconnected to by asyncpg."""
    return await asyncpg.create_pool(
        asyncpg_dsn(url),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout,
        command_timeout=settings.db_command_timeout,
        max_inactive_connection_lifetime=MAX_IDLE_SECONDS,
        statement_cache_size=statement_cache_size(settings, url),
        server_settings={"application_name": "todo-api", "timezone": "UTC"},
    )


# Errors that mean "the database is not there", as opposed to "this query is wrong".
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InvalidCatalogNameError,
)


class Database:
    """The pool, with one rule added: any sign that the database is gone is DatabaseUnavailable,
    and waiting for a free connection is bounded by the connect timeout."""

    def __init__(self, pool: Pool, acquire_timeout: float) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        try:
            async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
                return await conn.fetchrow(sql, *args)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(type(exc).__name__) from exc

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            async with self.pool.acquire(timeout=self.acquire_timeout) as conn:
                return await conn.fetch(sql, *args)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(type(exc).__name__) from exc

    async def close(self) -> None:
        await self.pool.close()
