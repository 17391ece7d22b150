"""One throwaway PostgreSQL for the run: a fresh database on the server in TEST_DATABASE_URL
(dropped at the end), else an embedded server in a temporary folder. Migrated once; one app
with its lifespan running; an httpx client per test.

Remote mode (TEST_SERVICE_URL set, as `python -m bench.replicas` does): the service under test
runs elsewhere, e.g. replicas behind a load balancer, serving TEST_SERVICE_DATABASE_URL with
todo_api.testing.TEST_SETTINGS. The `client` fixture (and `client_for(app)` for tests taking the
`app` fixture) then talks to it over HTTP, and `db` looks at the database it serves. Tests that
make an app of their own with other settings still run it in-process, on that same database;
tests marked `in_process` (they look inside the in-process app) are skipped."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import psycopg
import pytest
from starlette.types import ASGIApp

from todo_api.app import create_app
from todo_api.db.migrations import apply_migrations, behind_a_pooler
from todo_api.settings import Settings, load_settings
from todo_api.testing import (
    TEST_SECRET,
    TEST_SETTINGS,
    TODO_API,
    RemoteService,
    Server,
    fresh_database,
    throwaway_server,
)

__all__ = ["TEST_SECRET", "RemoteService"]  # the tests import it from here
PASSWORD = "correct horse"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server to make databases on. An embedded one lives in a folder of its own,
    not under pytest's temporary folders: pytest deletes all but its three latest, and another
    pytest run on the machine would take the server's data away mid-run."""
    with (
        tempfile.TemporaryDirectory(prefix="todo-test-pg-") as folder,
        throwaway_server(os.environ.get("TEST_DATABASE_URL"), Path(folder)) as url,
    ):
        yield url


def _prepared_statements_survive(url: str | None) -> bool:
    """False behind a transaction pooler (found out as the app does), or when the suite is told
    DB_STATEMENT_CACHE=off; the tests that run yoyo's own command skip then."""
    if os.environ.get("DB_STATEMENT_CACHE", "").lower() in {"off", "false", "0", "no"}:
        return False
    if not url:
        return True  # an embedded server: direct
    with psycopg.connect(url, autocommit=True) as conn:
        return not behind_a_pooler(conn)


PREPARED_STATEMENTS = _prepared_statements_survive(os.environ.get("TEST_DATABASE_URL"))
SERVICE_URL = os.environ.get("TEST_SERVICE_URL")


# Set by .ci/run for its passes over other connections (an embedded server, PgBouncer), after a
# full pass: only the tests that reach the suite's database server (their fixtures lead to
# `server_url`) run again; the others (the settings, the token issuer, the wheel, tests that
# start servers of their own) would run exactly as they just did; nor do the tests marked `once`,
# which check at a cost (a wait for the clock, a package build, a slow key server) what does not
# depend on how the database is reached.
DATABASE_TESTS_ONLY = os.environ.get("TODO_TESTS_DATABASE_ONLY", "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DATABASE_TESTS_ONLY:
        reach = {
            item: "server_url" in getattr(item, "fixturenames", ())
            and item.get_closest_marker("once") is None
            for item in items
        }
        config.hook.pytest_deselected(items=[item for item in items if not reach[item]])
        items[:] = [item for item in items if reach[item]]
    if SERVICE_URL:
        skip = pytest.mark.skip(reason="looks inside the in-process app; TEST_SERVICE_URL is set")
        for item in items:
            if item.get_closest_marker("in_process"):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    if SERVICE_URL:
        yield os.environ["TEST_SERVICE_DATABASE_URL"]  # migrated by whoever runs the service
        return
    with fresh_database(server_url) as url:
        apply_migrations(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        {
            **TEST_SETTINGS,
            "DATABASE_URL": database_url,
            "TODO_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        }
    )


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[ASGIApp]:
    """Run the app's lifespan around a block (httpx's ASGITransport does not)."""
    starlette_app = app.app  # type: ignore[attr-defined]
    async with starlette_app.router.lifespan_context(starlette_app):
        yield app


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[ASGIApp | RemoteService]:
    if SERVICE_URL:
        yield RemoteService(SERVICE_URL)
        return
    async with running(create_app(settings)) as started:
        yield started


BASE_URL = "http://testserver"


class ToService(httpx.AsyncHTTPTransport):
    """Connects to the remote service's address whatever host a request's URL names, as if
    `testserver` resolved to it: the request keeps its Host header, and the links the service
    builds from it (Location, Link) work as they do in-process."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.address = httpx.URL(url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        routed = httpx.Request(
            request.method,
            request.url.copy_with(host=self.address.host, port=self.address.port),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await super().handle_async_request(routed)


def client_for(app: ASGIApp | RemoteService) -> httpx.AsyncClient:
    """A client of the app in-process, or of the remote service over HTTP."""
    transport = (
        ToService(app.url) if isinstance(app, RemoteService) else httpx.ASGITransport(app=app)
    )
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=60)


@pytest.fixture
async def client(app: ASGIApp | RemoteService) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, for setting up states the API cannot (an inactive user) and for
    checking what is really stored."""
    conn = await asyncpg.connect(database_url, statement_cache_size=0)
    yield conn
    await conn.close()


@dataclass
class User:
    id: str
    email: str
    username: str
    password: str
    token: str
    refresh_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def tasks(self) -> str:
        return f"/api/{self.id}/tasks"

    @property
    def session_id(self) -> str:
        """The session its token names (`sid`), for statements run directly."""
        sid: str = jwt.decode(self.token, options={"verify_signature": False})["sid"]
        return sid


async def register(client: httpx.AsyncClient, **fields: Any) -> User:
    name = f"u{uuid.uuid4().hex[:12]}"
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD, **fields}
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return User(
        id=data["user"]["id"],
        email=data["user"]["email"],
        username=data["user"]["username"],
        password=body["password"],
        token=data["access_token"],
        refresh_token=data["refresh_token"],
    )


@pytest.fixture
async def user(client: httpx.AsyncClient) -> User:
    return await register(client)


@pytest.fixture
async def other(client: httpx.AsyncClient) -> User:
    return await register(client)


async def create_task(client: httpx.AsyncClient, owner: User, **fields: Any) -> dict[str, Any]:
    body = {"title": "a task", **fields}
    response = await client.post(owner.tasks, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a well-formed problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text and "SELECT" not in response.text
    return body


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start real server processes (`serve(env)`, or `serve(env, command)`), up and answering
    /health on return; all killed at the end of the test."""
    started: list[Server] = []

    def start(env: dict[str, str], command: Sequence[str] = TODO_API, **kwargs: Any) -> Server:
        server = Server(command, env, **kwargs)
        started.append(server)
        server.wait_until_up()
        return server

    yield start
    for server in started:
        server.kill()
