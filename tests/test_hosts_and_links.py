"""Absolute URLs and the Host a client names (docs/api.md, "Hardening"): with PUBLIC_URL set,
Link starts with it whatever Host says; without it, the
request's host is used only when it is one of ALLOWED_HOSTS (default `*`), and a request naming
another host gets a 400 problem with its X-Request-ID, like every error."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET, assert_problem, create_task, register, running
from todo_api.app import create_app
from todo_api.settings import Settings
from todo_api.testing import TODO_API, Server

pytestmark = pytest.mark.anyio

ALLOWED = ("testserver", "api.example.com", "*.example.org")  # testserver: the test client's
NEXT_LINK = re.compile(r'^<([^>]*)>; rel="next"$')


@pytest.fixture
def client_with(settings: Settings) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def made(**changes: Any) -> AsyncIterator[httpx.AsyncClient]:
        changed = settings.model_copy(update=changes)
        async with running(create_app(changed)) as app:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c

    return made


async def next_link(client: httpx.AsyncClient, host: str | None) -> str:
    user = await register(client)
    await create_task(client, user)
    await create_task(client, user)
    headers = {**user.headers, **({"Host": host} if host else {})}
    page = await client.get(user.tasks, params={"limit": 1}, headers=headers)
    assert page.status_code == 200, page.text
    found = NEXT_LINK.match(page.headers["link"])
    assert found is not None
    return found.group(1)


async def test_with_public_url_links_start_with_it_whatever_host_is_named(
    client_with: Callable[..., Any],
) -> None:
    async with client_with(public_url="https://api.example.com/todo") as client:
        for host in (None, "evil.example.net", "api.example.com:8443"):
            link = await next_link(client, host)
            assert link.startswith("https://api.example.com/todo/api/"), link


async def test_without_it_links_use_an_allowed_host(client_with: Callable[..., Any]) -> None:
    async with client_with(allowed_hosts=ALLOWED) as client:
        assert (await next_link(client, "api.example.com")).startswith("http://api.example.com/")
        link = await next_link(client, "eu.example.org:8080")
        assert link.startswith("http://eu.example.org:8080/")


@pytest.mark.parametrize(
    "host", ["evil.example.net", "api.example.com.evil.net", "example.org", "", "a b"]
)
async def test_a_host_not_allowed_gets_a_400_problem(
    client_with: Callable[..., Any], host: str
) -> None:
    async with client_with(allowed_hosts=ALLOWED) as client:
        for path in ("/health", "/api/auth/login"):
            refused = await client.get(path, headers={"Host": host})
            body = assert_problem(refused, 400)
            assert "host" in body["detail"].lower()
        assert (await client.get("/health", headers={"Host": "api.example.com"})).status_code == 200


async def test_by_default_any_host_is_served_and_named_in_links(
    client_with: Callable[..., Any],
) -> None:
    async with client_with() as client:
        assert (await next_link(client, "anything.example")).startswith("http://anything.example/")


def test_over_http_a_client_chosen_host_never_reaches_a_link(
    database_url: str, serve: Callable[..., Server]
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "PUBLIC_URL": "https://api.example.com",
        "ALLOWED_HOSTS": "127.0.0.1,api.example.com",
    }
    server = serve(env, [*TODO_API, "--workers", "2"])
    with httpx.Client(base_url=server.base) as http:
        refused = http.get("/health", headers={"Host": "evil.example.net"})
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["request_id"] == refused.headers["x-request-id"]
        name = f"h{uuid.uuid4().hex[:12]}"
        made = http.post(
            "/api/auth/register",
            json={"email": f"{name}@example.com", "username": name, "password": "password1"},
        )
        auth = {"Authorization": f"Bearer {made.json()['access_token']}"}
        tasks = f"/api/{made.json()['user']['id']}/tasks"
        for title in ("a", "b"):
            assert http.post(tasks, json={"title": title}, headers=auth).status_code == 201
        page = http.get(tasks, params={"limit": 1}, headers={**auth, "Host": "api.example.com"})
        assert page.headers["link"].startswith("<https://api.example.com/api/")
