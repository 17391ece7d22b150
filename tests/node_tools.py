"""Node.js for the tests that run a frontend's side for real (tests/frontend/: the typed
client compiled under `tsc --strict`, a Better Auth server): node and npm found, and the
packages of tests/frontend/package-lock.json installed with `npm ci`, once: they stay in
tests/frontend/node_modules (not committed) until the lock file changes.

Without Node those tests skip, saying so; under CI (CI=true) they fail instead, since .ci/run
installs Node."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

FRONTEND = Path(__file__).resolve().parent / "frontend"
MIN_NODE = 20  # better-auth 1.7 and package.json's "engines"
_STAMP = ".installed-from-lock"  # in node_modules: the sha256 of the lock file it was made from


@dataclass(frozen=True)
class Node:
    node: str  # the node executable
    folder: Path  # tests/frontend, where package.json is

    def bin(self, name: str) -> str:
        """An executable of an installed package (tsc, openapi-typescript)."""
        return str(self.folder / "node_modules" / ".bin" / name)


def _unavailable(why: str) -> NoReturn:
    """Skip, saying why; under CI (CI=true) fail instead, since .ci/run installs Node."""
    message = f"{why}, so the frontend tests (typed client, Better Auth) cannot run"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def node_with_packages() -> Node:
    """Node, with tests/frontend's packages installed; skips (fails under CI) without Node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("Node.js and npm are not installed (Debian: apt-get install nodejs npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < MIN_NODE:
        _unavailable(f"Node.js {version} is older than {MIN_NODE}, which better-auth needs")
    digest = hashlib.sha256((FRONTEND / "package-lock.json").read_bytes()).hexdigest()
    stamp = FRONTEND / "node_modules" / _STAMP
    # One installer at a time in this checkout: `npm ci` empties node_modules first.
    with open(FRONTEND / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != digest:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=FRONTEND,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
            stamp.write_text(digest)
    return Node(node, FRONTEND)
