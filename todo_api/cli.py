"""The `todo-api` command: `serve` the API (also `python -m todo_api`), `migrate` the database,
manage accounts as an operator (`users list|deactivate|activate|delete`), and serve the agents'
tools over stdio for a local MCP client (`mcp`, as the user of TODO_API_TOKEN)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import psycopg
import uvicorn
from yoyo.exceptions import BadMigration, LockTimeout, MigrationConflict

from todo_api.cursors import CursorCodec
from todo_api.db import admin
from todo_api.db.migrations import apply_migrations
from todo_api.db.pool import (
    Database,
    DatabaseMisconfigured,
    DatabaseUnavailable,
    masked,
    open_database,
    wait_for_database,
)
from todo_api.db.schema_check import SchemaDrift, check_schema
from todo_api.embedded import EmbeddedUnavailable, embedded_postgres
from todo_api.logs import configure_logging
from todo_api.serving import PROTOCOL
from todo_api.settings import METRICS_DIR_VARIABLE, Settings, SettingsError, load_settings

log = logging.getLogger("todo_api")
T = TypeVar("T")


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[str]:
    if settings.database_url is not None:
        yield settings.database_url
        return
    with embedded_postgres(settings.data_dir) as url:
        log.info("embedded PostgreSQL running under %s", settings.data_dir / "pg")
        yield url


class MigrationFailed(Exception):
    """A migration could not be applied; yoyo rolled it back, so nothing of it is left."""


def _prepare(url: str, settings: Settings, migrate: bool) -> None:
    """Wait for the database (so one that never comes up ends start-up with one clear line),
    apply pending migrations if asked to, then check that the schema fits this version."""
    prepared = asyncio.run(wait_for_database(settings, url))
    if migrate:
        try:
            applied = apply_migrations(url, prepared)
        except (psycopg.Error, BadMigration, MigrationConflict, LockTimeout) as exc:
            reason = " ".join(str(exc).split())
            raise MigrationFailed(f"a migration failed and was rolled back: {reason}") from exc
        log.info("migrations: %d applied", applied)
    asyncio.run(check_schema(settings, url))


# The names of prometheus_client's files in that folder begin with these.
METRICS_FILE_KINDS = ("counter", "gauge", "histogram", "summary")


class MetricsDirectoryUnusable(Exception):
    """PROMETHEUS_MULTIPROC_DIR cannot be made or emptied."""


@contextlib.contextmanager
def _metrics_directory(settings: Settings) -> Iterator[None]:
    """A fresh folder for the workers' metrics files, in PROMETHEUS_MULTIPROC_DIR, for as long
    as the service runs (with one worker as with several, so /metrics reads the same): the
    operator's, emptied of metrics files (a scrape would sum a previous run's), or a private
    one, removed at exit. Set before any worker imports prometheus_client, which reads it
    then. With METRICS off the workers get none, so they write no files."""
    if not settings.metrics:
        os.environ.pop(METRICS_DIR_VARIABLE, None)
        yield
        return
    if settings.prometheus_multiproc_dir is None:
        with tempfile.TemporaryDirectory(prefix="todo-api-metrics-") as private:
            os.environ[METRICS_DIR_VARIABLE] = private
            yield
        return
    directory = settings.prometheus_multiproc_dir.resolve()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Only the files prometheus_client writes: the folder may hold others.
        for kind in METRICS_FILE_KINDS:
            for stale in directory.glob(f"{kind}_*.db"):
                stale.unlink()
    except OSError as exc:
        raise MetricsDirectoryUnusable(
            f"{METRICS_DIR_VARIABLE}: {exc.strerror}: {exc.filename}"
        ) from None
    os.environ[METRICS_DIR_VARIABLE] = str(directory)
    yield


def _stop_quietly(signum: int, frame: object) -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown; ending here instead lets the
    embedded database stop cleanly and the process exit 0."""
    raise SystemExit(0)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _stop_quietly)
    with _database(settings) as url, _metrics_directory(settings):
        _prepare(url, settings, migrate=settings.migrate_on_start)
        # Workers read their settings from the environment; hand them the embedded database.
        os.environ["DATABASE_URL"] = url
        os.environ["JWT_SECRET"] = settings.jwt_secret
        host = args.host or settings.host
        port = args.port if args.port is not None else settings.port
        workers = args.workers or settings.workers
        log.info("todo-api listening on http://%s:%d, database %s", host, port, masked(url))
        uvicorn.run(
            "todo_api.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            server_header=False,
            timeout_graceful_shutdown=10,
            # Slow and hostile clients (serving.py; README, "Limits"):
            http=PROTOCOL,
            limit_concurrency=settings.limit_concurrency,
            timeout_keep_alive=settings.keep_alive_seconds,
        )
    return 0


class UnknownAccount(Exception):
    """No account has this id, email or username."""


def _with_database(settings: Settings, url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on a pool opened for it alone, closed afterwards."""

    async def run() -> T:
        db = await open_database(settings, url)
        try:
            return await work(db)
        finally:
            await db.pool.close()

    return asyncio.run(run())


def _find(settings: Settings, url: str, account: str) -> asyncpg.Record:
    async def find(db: Database) -> asyncpg.Record | None:
        return await admin.find_account(db, account)

    found = _with_database(settings, url, find)
    if found is None:
        raise UnknownAccount(f"no account named {account}")
    return found


def _name(account: asyncpg.Record) -> str:
    return str(account["username"] or account["email"] or account["id"])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _users_list(settings: Settings, url: str) -> int:
    rows = _with_database(settings, url, admin.list_accounts)
    table = [["id", "email", "username", "active", "created", "tasks"]]
    table += [
        [_cell(r[key]) for key in ("id", "email", "username", "is_active", "created_at", "tasks")]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _users_set_active(settings: Settings, url: str, account: str, active: bool) -> int:
    found = _find(settings, url, account)

    async def change(db: Database) -> bool:
        return await admin.set_active(db, found["id"], active)

    state = "active" if active else "inactive"
    if _with_database(settings, url, change):
        print(f"{'activated' if active else 'deactivated'} {_name(found)} (id {found['id']})")
    else:
        print(f"{_name(found)} was already {state}")
    return 0


def _confirmed(question: str) -> bool:
    try:
        answer = input(question)
    except (EOFError, KeyboardInterrupt):
        print()
        return False
    return answer.strip().lower() in {"y", "yes"}


def _users_delete(settings: Settings, url: str, account: str, yes: bool) -> int:
    found = _find(settings, url, account)
    # Asked with no connection open: an operator may take a while to answer.
    email = f" ({found['email']})" if found["email"] else ""
    if not yes and not _confirmed(f"Delete {_name(found)}{email} and all their tasks? [y/N] "):
        print("not deleted", file=sys.stderr)
        return 1

    async def delete(db: Database) -> bool:
        return await admin.delete_account(db, found["id"])

    if not _with_database(settings, url, delete):
        raise UnknownAccount(f"no account named {account}")  # deleted meanwhile
    print(f"deleted {_name(found)} (id {found['id']})")
    return 0


def _users(settings: Settings, args: argparse.Namespace) -> int:
    with _database(settings) as url:
        _prepare(url, settings, migrate=False)
        if args.action == "list":
            return _users_list(settings, url)
        if args.action in ("activate", "deactivate"):
            return _users_set_active(settings, url, args.account, args.action == "activate")
        return _users_delete(settings, url, args.account, args.yes)


def _mcp(settings: Settings) -> int:
    """The tools over stdio for the user of TODO_API_TOKEN; without a valid token, one line on
    standard error and status 1, before serving anything."""
    token = settings.todo_api_token
    if token is None:
        print("todo-api: TODO_API_TOKEN is not set (a personal access token)", file=sys.stderr)
        return 1
    from todo_api.agents.server import check_token, serve_stdio  # the MCP SDK: only here

    with _database(settings) as url:
        _prepare(url, settings, migrate=False)

        async def serve(db: Database) -> int:
            reason = await check_token(db, token)
            if reason is not None:
                print(f"todo-api: {reason}", file=sys.stderr)
                return 1
            await serve_stdio(db, CursorCodec(settings.jwt_secret), token)
            return 0

        return _with_database(settings, url, serve)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply pending migrations, then serve the API")
    serve.add_argument("--host", help="address to listen on (default HOST, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default PORT, 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default WEB_CONCURRENCY, 1)")
    commands.add_parser("migrate", help="apply pending migrations and exit")
    users = commands.add_parser("users", help="list, deactivate, activate or delete accounts")
    actions = users.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every account: id, email, username, active, created, tasks")
    named = "the account's id, email or username (any case)"
    deactivate = actions.add_parser("deactivate", help="refuse the account's tokens, end sessions")
    deactivate.add_argument("account", help=named)
    activate = actions.add_parser("activate", help="let a deactivated account log in again")
    activate.add_argument("account", help=named)
    delete = actions.add_parser("delete", help="delete an account and all its tasks")
    delete.add_argument("account", help=named)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    commands.add_parser(
        "mcp",
        help="serve the agents' tools (MCP) over stdio, as the user of the personal access "
        "token in TODO_API_TOKEN",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env: dict[str, str] | None = None
    if args.command == "mcp" and not os.environ.get("JWT_SECRET", "").strip():
        # The stdio server signs nothing but its own find_tasks cursors: a key of its own does.
        env = {**os.environ, "JWT_SECRET": secrets.token_urlsafe(48)}
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        print(f"todo-api: {exc}", file=sys.stderr)
        return 2
    level = settings.log_level
    if args.command in ("users", "mcp") and "log_level" not in settings.model_fields_set:
        # An operator's command answers in its own lines; start-up chatter (waiting for the
        # database, the embedded server) would only bury them. LOG_LEVEL still brings it back.
        level = "error"
    configure_logging(settings.log_format, level)
    try:
        if args.command == "migrate":
            with _database(settings) as url:
                _prepare(url, settings, migrate=True)
            return 0
        if args.command == "users":
            return _users(settings, args)
        if args.command == "mcp":
            return _mcp(settings)
        return _serve(settings, args)
    except KeyboardInterrupt:
        return 0
    except UnknownAccount as exc:
        print(f"todo-api: {exc}", file=sys.stderr)
        return 1
    except (
        EmbeddedUnavailable,
        DatabaseUnavailable,
        DatabaseMisconfigured,
        MigrationFailed,
        SchemaDrift,
        MetricsDirectoryUnusable,
    ) as exc:
        print(f"todo-api: {exc}", file=sys.stderr)
        return 2
    except asyncpg.PostgresError as exc:  # e.g. a role that may not change users
        reason = " ".join(str(exc).split())
        print(f"todo-api: the database refused: {reason}", file=sys.stderr)
        return 2
