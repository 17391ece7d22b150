"""Apply the yoyo migrations, under yoyo's lock so replicas starting together take turns."""

from __future__ import annotations

from typing import Any

import psycopg
from yoyo import get_backend, read_migrations

from todo_api.db.pool import yoyo_url
from todo_api.resources import resource_dir


def apply_migrations(database_url: str, prepared_statements: bool | None = None) -> int:
    """Apply every pending migration; return how many were applied. Behind a transaction
    pooler (PgBouncer), psycopg must not prepare statements, which such a pooler cannot keep:
    `prepared_statements` says whether it may, and None finds out from the connection."""
    backend = get_backend(yoyo_url(database_url))
    if prepared_statements is None:
        prepared_statements = not behind_a_pooler(backend.connection)
    if not prepared_statements:
        backend.connection.prepare_threshold = None
    try:
        migrations = read_migrations(str(resource_dir("migrations")))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return len(pending)
    finally:
        backend.connection.close()


def behind_a_pooler(conn: psycopg.Connection[Any]) -> bool:
    """As db.pool.behind_a_pooler, for psycopg: the process id from BackendKeyData is a
    pooler's own, not the backend's, behind PgBouncer and its kind."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    conn.rollback()  # yoyo expects no transaction open
    return row is None or conn.info.backend_pid != row[0]
