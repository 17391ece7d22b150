"""The asyncpg pool, and the URL rules that make hosted PostgreSQL (Neon, PgBouncer) work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from todo_api.settings import DATABASE_SCHEMES, Settings

# libpq understands these; asyncpg would send them to the server as settings, which fails.
_LIBPQ_ONLY_PARAMS = frozenset({"channel_binding"})
# Idle connections are closed before typical server or proxy idle cut-offs (Neon, PgBouncer: 5 min).
MAX_IDLE_SECONDS = 240.0

Pool = asyncpg.Pool
T = TypeVar("T")
log = logging.getLogger("todo_api")


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


class DatabaseMisconfigured(Exception):
    """The database answered, but refuses this configuration (a bad URL option, a wrong
    password): waiting longer will not help."""


def _split(url: str) -> tuple[str, str, str, list[tuple[str, str]], str]:
    parts = urlsplit(url)
    if parts.scheme not in DATABASE_SCHEMES:
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


STATEMENT_CACHE_SIZE = 100


def _named_as_pooler(url: str) -> bool:
    """Neon names its pooled endpoints `...-pooler...`."""
    return "-pooler" in (urlsplit(url).hostname or "")


async def behind_a_pooler(conn: asyncpg.Connection) -> bool:
    """Whether a connection reaches PostgreSQL through a pooler or proxy. The process id that
    came in the server's BackendKeyData at connect is the backend's own on a direct connection;
    PgBouncer, Supavisor and Neon's proxy send one of their own, so it is not the backend's."""
    backend: int = await conn.fetchval("SELECT pg_backend_pid()")
    return conn.get_server_pid() != backend


async def statement_cache_usable(settings: Settings, url: str, conn: asyncpg.Connection) -> bool:
    """DB_STATEMENT_CACHE=on|off decides; unset, the cache is on for a direct connection and off
    through a pooler, where a transaction may run on a server connection that never saw the
    statement prepared (or another client's statement under the same name)."""
    if settings.db_statement_cache is not None:
        return settings.db_statement_cache
    return not _named_as_pooler(url) and not await behind_a_pooler(conn)


def _connect_arguments(settings: Settings, statement_cache: bool) -> dict[str, Any]:
    return {
        "timeout": settings.db_request_timeout,
        "command_timeout": settings.db_command_timeout,
        "statement_cache_size": STATEMENT_CACHE_SIZE if statement_cache else 0,
        "server_settings": {"application_name": "todo-api"},
    }


class StatelessConnection(asyncpg.Connection):
    """A connection given back to the pool without asyncpg's reset query (RESET ALL, UNLISTEN,
    CLOSE ALL, advisory unlock): a round trip on every request. Safe here, since no query of
    ours leaves session state behind (no SET, LISTEN, cursor or advisory lock); an open
    transaction is still rolled back by asyncpg without this query."""

    def get_reset_query(self) -> str:
        return ""


async def open_database(settings: Settings, url: str) -> Database:
    """The pool behind a Database, waiting for the database as `connect_with_retry` does, with
    the statement cache decided from the connection itself. Later, connections that die are
    replaced by asyncpg on the next acquire, so an outage heals by itself."""
    statement_cache = await wait_for_database(settings, url)
    pool = await connect_with_retry(
        settings,
        url,
        lambda: asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            max_inactive_connection_lifetime=MAX_IDLE_SECONDS,
            connection_class=StatelessConnection,
            **_connect_arguments(settings, statement_cache),
        ),
    )
    return Database(
        pool,
        acquire_timeout=settings.db_request_timeout,
        statement_cache=statement_cache,
        uncached_arguments=(asyncpg_dsn(url), _connect_arguments(settings, False)),
    )


async def wait_for_database(settings: Settings, url: str) -> bool:
    """Return once the database accepts a connection (before migrating at start-up), saying
    whether prepared statements survive on it (see `statement_cache_usable`)."""

    async def probe() -> bool:
        conn = await asyncpg.connect(
            asyncpg_dsn(url), timeout=settings.db_request_timeout, statement_cache_size=0
        )
        try:
            return await statement_cache_usable(settings, url, conn)
        finally:
            await conn.close()

    return await connect_with_retry(settings, url, probe)


async def connect_with_retry(
    settings: Settings, url: str, connect: Callable[[], Awaitable[T]]
) -> T:
    """`connect()`, retried with backoff while the database is unreachable (a container starting
    beside its database), for up to DB_CONNECT_TIMEOUT seconds; then DatabaseUnavailable."""
    deadline = time.monotonic() + settings.db_connect_timeout
    delay = 0.25
    while True:
        try:
            return await connect()
        except _MISCONFIGURED as exc:
            raise DatabaseMisconfigured(
                f"cannot use the database at {masked(url)}: {type(exc).__name__}: {exc}"
            ) from exc
        except _UNAVAILABLE as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseUnavailable(
                    f"the database at {masked(url)} did not answer within "
                    f"{settings.db_connect_timeout:g} s ({type(exc).__name__}: {exc})"
                ) from exc
            log.warning("database not reachable yet (%s); retrying", type(exc).__name__)
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)


# Errors that mean "the database is not there", as opposed to "this query is wrong". Not
# asyncpg's InterfaceError: it covers our own mistakes too (a wrong argument count, a bad DSN
# option); the one that means a dead connection is told apart by the connection's state.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.InvalidCatalogNameError,
    asyncpg.exceptions.PostgresConnectionError,
)


_MISCONFIGURED: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ClientConfigurationError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
)
# A prepared statement the server side does not have (or has twice): behind a transaction
# pooler that start-up did not recognise. The statement did not run.
_STATEMENT_LOST: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.InvalidSQLStatementNameError,
    asyncpg.exceptions.DuplicatePreparedStatementError,
)


# A connection that a server-side close left in a state asyncpg refuses to use: the statement
# was never sent, so it is safe to run on a fresh connection whatever it is.
_NEVER_SENT: tuple[type[BaseException], ...] = (asyncpg.exceptions.InternalClientError,)
# A connection found dead while in use: the statement may or may not have run, so only
# statements that are safe to repeat are retried.
_DEAD_CONNECTION: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    ConnectionResetError,
    BrokenPipeError,
)


class Runner(Protocol):
    """What runs a statement: the pool (each statement on its own), or a Transaction."""

    async def fetchrow(self, sql: str, *args: Any, retry: bool = True) -> asyncpg.Record | None: ...

    async def fetch(self, sql: str, *args: Any, retry: bool = True) -> list[asyncpg.Record]: ...


class Transaction:
    """Statements on the connection of Database.transaction()."""

    def __init__(self, conn: Any) -> None:  # a pooled connection (asyncpg's proxy of one)
        self.conn = conn

    async def fetchrow(self, sql: str, *args: Any, retry: bool = True) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.conn.fetchrow(sql, *args)
        return row

    async def fetch(self, sql: str, *args: Any, retry: bool = True) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.conn.fetch(sql, *args)
        return rows


class Database:
    """The pool, with two rules added: any sign that the database is gone is DatabaseUnavailable,
    and a statement that is safe to repeat is retried once when it meets a dead connection
    (one closed by the server while idle, as Neon does when it suspends)."""

    def __init__(
        self,
        pool: Pool,
        acquire_timeout: float,
        *,
        statement_cache: bool = False,
        uncached_arguments: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout
        self.statement_cache = statement_cache
        self._uncached_arguments = uncached_arguments
        # Requests wait for a connection in arrival order. asyncpg's pool queue lets a newcomer
        # take a connection released while earlier waiters are still waking, so under load
        # some requests waited many times over (a p99 3x the median's neighbours). asyncio's
        # Semaphore is first come, first served.
        self._turns = asyncio.Semaphore(pool.get_max_size())
        self.waiting = 0  # requests waiting for a turn now (a metric, read by sampling)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection, taken in arrival order. When others are waiting, the wait is
        bounded by the acquire timeout; when a turn is free it is taken at once, with no timer
        to arm (a measurable share of a fast request), and a connection is then free in the
        pool: at most a new one is made, bounded by the connect timeout."""
        if self._turns.locked():
            self.waiting += 1
            try:
                # asyncio.timeout, not acquire(timeout=): asyncpg's runs the wait in a new task.
                async with asyncio.timeout(self.acquire_timeout):
                    await self._turns.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._turns.acquire()  # a free turn: returns without suspending
        try:
            conn = await self.pool.acquire()
        except BaseException:
            self._turns.release()
            raise
        try:
            yield conn
        finally:
            await self.pool.release(conn)
            self._turns.release()

    async def _run(self, method: str, sql: str, args: tuple[Any, ...], retry: bool) -> Any:
        # Every idle connection may be dead at once (the server restarted, or suspended), so a
        # statement may meet each of them before a fresh one: one try per pooled connection.
        tries = self.pool.get_max_size() + 1
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._connection() as conn:
                    try:
                        return await getattr(conn, method)(sql, *args)
                    except asyncpg.exceptions.InterfaceError as exc:
                        if conn.is_closed():  # the connection died under us: not our mistake
                            raise ConnectionResetError(str(exc)) from exc
                        raise
            except _STATEMENT_LOST as exc:
                if not self.statement_cache or attempt >= tries:
                    raise DatabaseUnavailable(type(exc).__name__) from exc
                await self._stop_caching_statements(exc)
            except (*_NEVER_SENT, *_DEAD_CONNECTION) as exc:
                safe = retry or isinstance(exc, _NEVER_SENT)
                if not safe or attempt >= tries:
                    raise DatabaseUnavailable(type(exc).__name__) from exc
                log.info("retrying on a fresh connection after %s", type(exc).__name__)
            except _UNAVAILABLE as exc:
                raise DatabaseUnavailable(type(exc).__name__) from exc

    async def _stop_caching_statements(self, exc: BaseException) -> None:
        """Prepared statements do not survive here: new connections go without the cache, and
        the pooled ones are replaced as they come back."""
        log.warning(
            "prepared statements do not survive on this database connection (%s): a "
            "transaction pooler; the statement cache is now off",
            type(exc).__name__,
        )
        self.statement_cache = False
        if self._uncached_arguments is not None:
            dsn, arguments = self._uncached_arguments
            self.pool.set_connect_args(dsn, **arguments)
        await self.pool.expire_connections()

    async def fetchrow(self, sql: str, *args: Any, retry: bool = True) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run("fetchrow", sql, args, retry)
        return row

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Statements on one connection in one transaction: committed when the block ends,
        rolled back when it raises. Through a transaction pooler that is still one server
        connection throughout. Nothing in it is retried."""
        try:
            async with self._connection() as conn, conn.transaction():
                yield Transaction(conn)
        except (*_NEVER_SENT, *_DEAD_CONNECTION, *_UNAVAILABLE) as exc:
            raise DatabaseUnavailable(type(exc).__name__) from exc

    async def fetch(self, sql: str, *args: Any, retry: bool = True) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run("fetch", sql, args, retry)
        return rows
