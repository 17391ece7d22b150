"""The README's walk through with curl runs as written: its block, taken from README.md itself
(so it cannot drift), runs in bash against a live `todo-api serve` on a fresh database (only
`localhost:8000` replaced by the server's address), and each curl answers the status its step
means."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable

from todo_api.testing import ROOT, TEST_SETTINGS, Server, fresh_database

# Each curl of the walk through, in order: method, path (the user's id and the task and list
# ids written as {user} and {id}), status.
STEPS = [
    ("POST", "/api/auth/register", 201),
    ("POST", "/api/auth/login", 200),
    ("POST", "/api/{user}/tasks", 201),
    ("POST", "/api/{user}/tasks", 201),
    ("GET", "/api/{user}/tasks?status=pending&sort=due", 200),
    ("POST", "/api/{user}/tasks/{id}/move", 200),
    ("PUT", "/api/{user}/tasks/{id}", 200),
    ("PATCH", "/api/{user}/tasks/{id}/complete", 200),
    ("POST", "/api/{user}/tasks/clear-completed", 200),
    ("DELETE", "/api/{user}/tasks/{id}", 204),
    ("POST", "/api/{user}/lists", 201),
    ("GET", "/api/{user}/lists", 200),
    ("POST", "/api/{user}/tasks", 201),
    ("POST", "/api/{user}/tasks", 201),
    ("POST", "/api/{user}/tasks/{id}/move", 200),
    ("GET", "/api/{user}/tasks?list={id}&sort=position", 200),
    ("POST", "/api/{user}/lists/{id}/move", 200),
    ("DELETE", "/api/{user}/lists/{id}", 204),
    ("GET", "/api/{user}/tags", 200),
    ("GET", "/api/{user}/tasks/changes", 200),
    ("POST", "/api/auth/refresh", 200),
    ("GET", "/api/auth/sessions", 200),
    ("POST", "/api/auth/logout", 204),
]

# Every curl also writes "<status> <method> <url>" to standard error (curl's -w %{stderr}).
TRACE = 'curl() { command curl -w "%{stderr}%{http_code} %{method} %{url_effective}\\n" "$@"; }\n'


def walk_through() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## A walk through with curl") :]
    block = re.search(r"^```sh\n(.*?)^```$", section, re.M | re.S)
    assert block is not None, "no sh block in the README's walk through"
    return block.group(1)


def test_the_readme_walk_through_runs_and_every_step_answers_its_status(
    server_url: str, serve: Callable[..., Server]
) -> None:
    script = walk_through()
    assert script.count("localhost:8000") == len(STEPS)
    with tempfile.TemporaryDirectory() as data, fresh_database(server_url) as database_url:
        server = serve({**TEST_SETTINGS, "DATABASE_URL": database_url, "TODO_DATA_DIR": data})
        address = f"127.0.0.1:{server.port}"
        here = TRACE + script.replace("localhost:8000", address)
        ran = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", here],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert ran.returncode == 0, f"the walk through failed:\n{ran.stdout}\n{ran.stderr}"
    steps = []
    for line in ran.stderr.splitlines():
        status, method, url = line.split(" ", 2)
        path = url.removeprefix(f"http://{address}")
        path = re.sub(r"^/api/[0-9a-f-]{36}/", "/api/{user}/", path)
        path = re.sub(r"/(tasks|lists)/\d+", r"/\1/{id}", path)
        path = re.sub(r"list=\d+", "list={id}", path)
        steps.append((method, path, int(status)))
    assert steps == STEPS, ran.stdout


def test_the_walk_through_uses_ids_it_was_given_never_made_up_ones() -> None:
    """Task and list ids differ from one server to the next: the block keeps the ones it
    created."""
    assert not re.search(r"/(tasks|lists)/\d|list=\d|_id\\?\": \d", walk_through())
