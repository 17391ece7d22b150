"""Real server processes for tests that need a socket, signals or several workers: started
with a free port, output to a file (a pipe nobody reads would block a busy server), and
always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

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
