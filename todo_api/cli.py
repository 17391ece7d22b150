"""`todo-api serve` and `todo-api migrate` (also `python -m todo_api`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence

import psycopg
import uvicorn
from yoyo.exceptions import BadMigration, LockTimeout, MigrationConflict

from todo_api.db.migrations import apply_migrations
from todo_api.db.pool import (
    DatabaseMisconfigured,
    DatabaseUnavailable,
    masked,
    wait_for_database,
)
from todo_api.db.schema_check import SchemaDrift, check_schema
from todo_api.embedded import EmbeddedUnavailable, embedded_postgres
from todo_api.logs import configure_logging
from todo_api.serving import PROTOCOL
from todo_api.settings import Settings, SettingsError, load_settings

log = logging.getLogger("todo_api")


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


def _stop_quietly(signum: int, frame: object) -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown; ending here instead lets the
    embedded database stop cleanly and the process exit 0."""
    raise SystemExit(0)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _stop_quietly)
    with _database(settings) as url:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply pending migrations, then serve the API")
    serve.add_argument("--host", help="address to listen on (default HOST, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default PORT, 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default WEB_CONCURRENCY, 1)")
    commands.add_parser("migrate", help="apply pending migrations and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"todo-api: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    try:
        if args.command == "migrate":
            with _database(settings) as url:
                _prepare(url, settings, migrate=True)
            return 0
        return _serve(settings, args)
    except KeyboardInterrupt:
        return 0
    except (
        EmbeddedUnavailable,
        DatabaseUnavailable,
        DatabaseMisconfigured,
        MigrationFailed,
        SchemaDrift,
    ) as exc:
        print(f"todo-api: {exc}", file=sys.stderr)
        return 2
