"""The servers the benchmark drives: started as todo_api.testing.Server (the one way a server
process is started, for the tests and the benchmark), waited for, measured, always stopped."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import psutil

from todo_api.serving import ONE_WRITE_PROTOCOL
from todo_api.testing import BIN, Server, free_port


def app_command(workers: int) -> list[str]:
    """`todo-api serve`, as a user starts it."""
    return [str(BIN / "todo-api"), "serve", "--workers", str(workers)]


def floor_command(workers: int, plain: bool = False) -> list[str]:
    """A floor app under uvicorn, without access log: the same-SQL floor (bench/floor.py), or
    the plain one (bench/plain.py). On the service's HTTP protocol minus its guards: a sized
    response leaves in one write there as in the service, so the floors' ratios measure the app
    above the HTTP server."""
    app = "bench.plain:app" if plain else "bench.floor:app"
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--http", ONE_WRITE_PROTOCOL,
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str]) -> Iterator[Server]:
    """The command listening on a free port (given as --port), up until the block ends."""
    port = free_port()
    server = Server([*command, "--port", str(port)], env, port=port)
    try:
        server.wait_until_up()
        yield server
    finally:
        try:
            server.terminate()
        except AssertionError:  # it did not exit in time
            server.kill()


def serving_pids(server: Server) -> list[int]:
    """The processes that serve requests: uvicorn's workers, or the server itself with one."""
    root = psutil.Process(server.proc.pid)
    children = root.children(recursive=True)
    return [p.pid for p in children] or [root.pid]


def worker_rss_mb(server: Server) -> float:
    """The largest resident set among the processes that serve requests."""
    return float(max(psutil.Process(pid).memory_info().rss for pid in serving_pids(server))) / 2**20
