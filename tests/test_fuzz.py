"""Schemathesis against the live service, from its own document: every operation, as an
authenticated user, positive and negative data, stateful links (create, then get, update,
toggle, delete). Every default check must pass: no 5xx, no response breaking its schema, no
undocumented status, no schema-valid request refused, no schema-invalid request accepted."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import TEST_SECRET
from todo_api.testing import BIN, ROOT, Server

MAX_EXAMPLES = os.environ.get("TODO_FUZZ_MAX_EXAMPLES", "25")
# Which of schemathesis' phases run (all by default). The coverage phase (every boundary of
# every parameter, about 150 s) does not depend on max-examples: .ci/run's passes over other
# connections, after a full run, take fuzzing and stateful only.
PHASES = os.environ.get("TODO_FUZZ_PHASES", "")
# The seed of the examples. Fixed by default, so every run of the suite sends the same requests
# and a pass stays a pass: a random one is exploration, and exploration in the suite is a flaky
# test (one CI run of 2026-12-07 ran past TIMEOUT_SECONDS with schemathesis busy generating,
# where every other run took 4-5 minutes). To explore: TODO_FUZZ_SEED=random (schemathesis prints
# the seed it drew, to replay a failure with TODO_FUZZ_SEED=<seed>).
SEED = os.environ.get("TODO_FUZZ_SEED", "1208")
TIMEOUT_SECONDS = 900


def test_schemathesis_finds_no_defect(database_url: str, serve: Callable[..., Server]) -> None:
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "LOG_LEVEL": "warning"}
    server = serve(env)
    name = "fuzzer"
    body = {"email": f"{name}@example.com", "username": name, "password": "password1"}
    r = httpx.post(f"{server.base}/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    token, user_id = r.json()["access_token"], r.json()["user"]["id"]
    for n in range(3):  # real cursors in every sort order; real tasks to move after
        httpx.post(
            f"{server.base}/api/{user_id}/tasks",
            json={"title": f"seed {n}"},
            headers={"Authorization": f"Bearer {token}"},
        )
    fuzz_env = {
        **os.environ,
        "TODO_FUZZ_BASE_URL": server.base,
        "TODO_FUZZ_USER_ID": user_id,
        "TODO_FUZZ_TOKEN": token,
        "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        str(BIN / "st"),
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{server.base}/openapi.json",
        "--max-examples",
        MAX_EXAMPLES,
        "--report",
        "junit",
        "--report-dir",
        str(ROOT / ".pytest-schemathesis"),
        # Each run stands alone: no examples replayed from an earlier run's folder.
        "--generation-database",
        "none",
    ]
    if PHASES:
        command += ["--phases", PHASES]
    if SEED != "random":
        command += ["--seed", SEED]
    try:
        run = subprocess.run(
            command, env=fuzz_env, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as exc:  # say where it was (it ran 4-5 minutes before)
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        so_far = (out or "")[-30000:]
        pytest.fail(f"schemathesis ran past {TIMEOUT_SECONDS} s; its output so far:\n{so_far}")
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]
    # Every operation schemathesis found in the document was tested, and none was left out.
    selected = re.search(r"Selected: (\d+)/(\d+)", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert selected and tested, run.stdout[-5000:]
    assert selected[1] == selected[2] == tested[1], run.stdout[-5000:]
    assert int(tested[1]) >= 12
