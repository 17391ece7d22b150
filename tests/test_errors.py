"""The error contract outside validation: unknown paths, methods, request ids, 500s."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path", ["/nope", "/api", "/api/auth", "/health/", "/api/auth/me/", "/api/x/tasks/1/complete/x"]
)
async def test_unknown_paths_are_404_problems(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path), 404)


async def test_trailing_slash_is_another_path_not_a_redirect(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user)
    for path in (f"{user.tasks}/", f"{user.tasks}/{task['id']}/"):
        r = await client.get(path, headers=user.headers)
        assert_problem(r, 404)
        assert "location" not in r.headers


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/u/tasks", {"GET", "HEAD", "POST"}),
        ("PATCH", "/api/u/tasks", {"GET", "HEAD", "POST"}),
        ("POST", "/api/u/tasks/1", {"GET", "HEAD", "PUT", "DELETE"}),
        ("PATCH", "/api/u/tasks/1", {"GET", "HEAD", "PUT", "DELETE"}),
        ("GET", "/api/u/tasks/1/complete", {"PATCH"}),
        ("GET", "/api/auth/login", {"POST"}),
        ("PUT", "/api/auth/register", {"POST"}),
        ("POST", "/api/auth/me", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("POST", "/health", {"GET", "HEAD"}),
    ],
)
async def test_wrong_method_is_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    r = await client.request(method, path)
    assert_problem(r, 405)
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


@pytest.mark.parametrize("request_id", ["abc", "A.b_c-1", "x" * 128])
async def test_a_well_formed_request_id_is_echoed(
    client: httpx.AsyncClient, request_id: str
) -> None:
    ok = await client.get("/health", headers={"X-Request-ID": request_id})
    assert ok.headers["x-request-id"] == request_id
    missing = await client.get("/nope", headers={"X-Request-ID": request_id})
    assert assert_problem(missing, 404)["request_id"] == request_id


@pytest.mark.parametrize("request_id", ["", "x" * 129, "has space", "semi;colon", "ünï", "a/b"])
async def test_a_malformed_request_id_is_replaced(
    client: httpx.AsyncClient, request_id: str
) -> None:
    r = await client.get("/health", headers={"X-Request-ID": request_id.encode()})
    generated = r.headers["x-request-id"]
    assert generated != request_id
    assert 1 <= len(generated) <= 128


async def test_every_response_has_a_fresh_request_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/health")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.in_process  # breaks a function inside the in-process app
async def test_an_unexpected_error_is_a_500_problem_without_details(
    client: httpx.AsyncClient, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from todo_api.db import tasks

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail in table tasks")

    monkeypatch.setattr(tasks, "get_task", broken)
    r = await client.get(f"{user.tasks}/1", headers=user.headers, params={})
    body = assert_problem(r, 500)
    assert "secret" not in r.text and "RuntimeError" not in r.text
    assert body["request_id"] == r.headers["x-request-id"]


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["content-type"].startswith("application/json")
    r = await client.get("/ready")
    assert r.json() == {"status": "ready"}


def test_the_problem_module_is_a_leaf() -> None:
    """Every layer raises Problem, so problems.py may import nothing of the app (no cycles, no
    lower layer pulling in an upper one); its handlers are registered in app.py."""
    import ast
    from pathlib import Path

    import todo_api.problems

    tree = ast.parse(Path(todo_api.problems.__file__).read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.startswith("todo_api")]
