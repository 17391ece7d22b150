"""One throwaway PostgreSQL for the run: a fresh database on the server in TEST_DATABASE_URL
(dropped at the end), else an embedded server in a temporary folder. Migrated once; one app
with its lifespan running; an httpx client per test."""

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
from todo_api.testing import TODO_API, Server, fresh_database, throwaway_server

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
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


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        apply_migrations(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "JWT_SECRET": TEST_SECRET,
            "TODO_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "BCRYPT_ROUNDS": "4",
            "BCRYPT_CONCURRENCY": "2",
            "DB_POOL_MAX": "20",
            "DB_STATEMENT_CACHE": os.environ.get("DB_STATEMENT_CACHE", ""),
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
async def app(settings: Settings) -> AsyncIterator[ASGIApp]:
    async with running(create_app(settings)) as started:
        yield started


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
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
