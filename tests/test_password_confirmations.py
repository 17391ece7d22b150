"""Password confirmations are throttled like logins (../shared/API.md, "Hardening found from
outside"): a wrong `current_password` of PUT /api/auth/password or of an email change by
PATCH /api/auth/me, or a wrong `password` of DELETE /api/auth/me, counts as a failed login of
the account from that address; once the login limit is reached those routes answer 429 with
Retry-After and check no password; the right password clears the count as a login does. The
count is PostgreSQL's, so it holds across `todo-api serve`'s workers."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from tests.conftest import TEST_SECRET, User, assert_problem, register, running
from todo_api.app import create_app
from todo_api.settings import Settings
from todo_api.testing import TODO_API, Server

pytestmark = pytest.mark.anyio

LIMIT = 3
WINDOW = 60
WRONG = "not the password"


@pytest.fixture
async def throttled_app(settings: Settings) -> AsyncIterator[ASGIApp]:
    strict = settings.model_copy(
        update={"login_max_failures": LIMIT, "login_window_seconds": WINDOW}
    )
    async with running(create_app(strict)) as app:
        yield app


@contextlib.asynccontextmanager
async def from_address(app: ASGIApp, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


Confirm = Callable[[httpx.AsyncClient, User, str], Awaitable[httpx.Response]]


async def change_password(client: httpx.AsyncClient, user: User, password: str) -> httpx.Response:
    body = {"current_password": password, "new_password": "a brand new password"}
    return await client.put("/api/auth/password", json=body, headers=user.headers)


async def change_email(client: httpx.AsyncClient, user: User, password: str) -> httpx.Response:
    body = {"email": f"new-{uuid.uuid4().hex[:10]}@example.com", "current_password": password}
    return await client.patch("/api/auth/me", json=body, headers=user.headers)


async def delete_account(client: httpx.AsyncClient, user: User, password: str) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/auth/me", json={"password": password}, headers=user.headers
    )


CONFIRMATIONS: dict[str, tuple[Confirm, int]] = {
    "password": (change_password, 200),
    "email": (change_email, 200),
    "delete": (delete_account, 204),
}


async def log_in(client: httpx.AsyncClient, user: User, password: str) -> httpx.Response:
    return await client.post(
        "/api/auth/login", json={"username": user.username, "password": password}
    )


@pytest.mark.parametrize("route", sorted(CONFIRMATIONS))
async def test_wrong_confirmations_reach_the_login_limit_then_429_even_for_the_right_password(
    throttled_app: ASGIApp, route: str
) -> None:
    confirm, _ = CONFIRMATIONS[route]
    address = f"10.40.{len(route)}.{uuid.uuid4().int % 250 + 1}"
    async with from_address(throttled_app, address) as client:
        user = await register(client)
        for _ in range(LIMIT):
            assert_problem(await confirm(client, user, WRONG), 403)
        throttled = await confirm(client, user, user.password)
        assert_problem(throttled, 429)
        assert 1 <= int(throttled.headers["retry-after"]) <= WINDOW
        # They were failed logins of the account: logging in from there is throttled too.
        assert_problem(await log_in(client, user, user.password), 429)
    async with from_address(throttled_app, "10.41.0.1") as elsewhere:
        assert (await log_in(elsewhere, user, user.password)).status_code == 200


@pytest.mark.parametrize("route", sorted(CONFIRMATIONS))
async def test_failed_logins_count_against_confirmations(
    throttled_app: ASGIApp, route: str
) -> None:
    confirm, _ = CONFIRMATIONS[route]
    async with from_address(throttled_app, f"10.42.{len(route)}.1") as client:
        user = await register(client)
        for _ in range(LIMIT):
            assert_problem(await log_in(client, user, WRONG), 401)
        assert_problem(await confirm(client, user, user.password), 429)


@pytest.mark.parametrize("route", sorted(CONFIRMATIONS))
async def test_the_right_password_clears_the_count(throttled_app: ASGIApp, route: str) -> None:
    confirm, success = CONFIRMATIONS[route]
    async with from_address(throttled_app, f"10.43.{len(route)}.1") as client:
        user = await register(client)
        for _ in range(LIMIT - 1):
            assert_problem(await confirm(client, user, WRONG), 403)
        answer = await confirm(client, user, user.password)
        assert answer.status_code == success, answer.text
        if route == "delete":
            return  # the account and its counts are gone
        if route == "password":
            user.password = "a brand new password"
            user.token = answer.json()["access_token"]
        # The count starts again: LIMIT - 1 more failures are still 401, not 429.
        for _ in range(LIMIT - 1):
            assert_problem(await log_in(client, user, WRONG), 401)
        assert (await log_in(client, user, user.password)).status_code == 200


async def test_a_missing_password_is_403_without_counting(throttled_app: ASGIApp) -> None:
    async with from_address(throttled_app, "10.44.0.1") as client:
        user = await register(client)
        for _ in range(LIMIT + 1):
            r = await client.request("DELETE", "/api/auth/me", headers=user.headers)
            assert_problem(r, 403)
        assert (await log_in(client, user, user.password)).status_code == 200


def _wrong_guesses_then_right(server: Server, user: dict[str, Any]) -> list[int]:
    """LIMIT wrong current passwords and then the right one, each on a connection of its own
    (so that with two workers both answer some), as the attack did."""
    statuses = []
    headers = {"Authorization": f"Bearer {user['token']}"}
    for password in [WRONG] * LIMIT + [user["password"]]:
        with httpx.Client(base_url=server.base) as fresh:
            body = {"current_password": password, "new_password": "taken over!"}
            statuses.append(fresh.put("/api/auth/password", json=body, headers=headers).status_code)
    return statuses


@pytest.mark.parametrize("workers", [1, 2])
def test_guesses_over_http_are_throttled_across_workers(
    database_url: str, serve: Callable[..., Server], workers: int
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "LOGIN_MAX_FAILURES": str(LIMIT),
        "LOGIN_WINDOW_SECONDS": str(WINDOW),
    }
    server = serve(env, [*TODO_API, "--workers", str(workers)])
    name = f"c{uuid.uuid4().hex[:12]}"
    password = "correct horse"
    with httpx.Client(base_url=server.base) as client:
        made = client.post(
            "/api/auth/register",
            json={"email": f"{name}@example.com", "username": name, "password": password},
        )
        assert made.status_code == 201
    user = {"token": made.json()["access_token"], "password": password}
    assert _wrong_guesses_then_right(server, user) == [403] * LIMIT + [429]
    with httpx.Client(base_url=server.base) as client:
        # The attacker's password never took, and the owner's still works from elsewhere
        # (X-Forwarded-For is believed from 127.0.0.1, FORWARDED_ALLOW_IPS's default).
        login = {"username": name, "password": "taken over!"}
        assert client.post("/api/auth/login", json=login).status_code == 429
        elsewhere = {"X-Forwarded-For": "10.45.0.1"}
        login["password"] = password
        assert client.post("/api/auth/login", json=login, headers=elsewhere).status_code == 200
