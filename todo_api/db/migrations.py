"""Apply the yoyo migrations, under yoyo's lock so replicas starting together take turns."""

from __future__ import annotations

from yoyo import get_backend, read_migrations

from todo_api.db.pool import yoyo_url
from todo_api.resources import resource_dir


def apply_migrations(database_url: str, prepared_statements: bool = True) -> int:
    """Apply every pending migration; return how many were applied. Behind a transaction
    pooler (PgBouncer), `prepared_statements=False` stops psycopg from preparing statements,
    which such a pooler cannot keep."""
    backend = get_backend(yoyo_url(database_url))
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
