"""Login throttling as docs/api.md, "Login throttling", says: failures counted in
PostgreSQL per account and client address, 429 with Retry-After and no password checked, the
same for unknown accounts, not dodged by case or by email vs username, the address from
uvicorn's proxy-header rules; and the password confirmations of account changes, counted in
the same count."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
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


async def log_in(client: httpx.AsyncClient, password: str, **login: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={**login, "password": password})


async def test_after_the_limit_even_the_right_password_is_429_with_retry_after(
    throttled_app: ASGIApp,
) -> None:
    async with from_address(throttled_app, "10.1.0.1") as client:
        user = await register(client)
        for _ in range(LIMIT):
            assert_problem(await log_in(client, "wrong password", email=user.email), 401)
        r = await log_in(client, user.password, email=user.email)
        assert_problem(r, 429)
        retry = int(r.headers["retry-after"])
        assert 1 <= retry <= WINDOW
    # The same account from another address is not affected.
    async with from_address(throttled_app, "10.1.0.2") as client:
        assert (await log_in(client, user.password, email=user.email)).status_code == 200


async def test_no_password_is_checked_while_throttled(
    throttled_app: ASGIApp, settings: Settings
) -> None:
    async with from_address(throttled_app, "10.2.0.1") as client:
        user = await register(client)
        for _ in range(LIMIT):
            await log_in(client, "wrong password", email=user.email)
        hasher = throttled_app.app.state.services.hasher  # type: ignore[attr-defined]
        checked: list[object] = []
        real_verify = hasher.verify

        async def counting(*args: object) -> bool:
            checked.append(args)
            return bool(await real_verify(*args))

        hasher.verify = counting
        try:
            assert_problem(await log_in(client, user.password, email=user.email), 429)
            assert_problem(await log_in(client, "x", email="nobody@example.com"), 401)
        finally:
            del hasher.verify
        assert len(checked) == 1  # the unknown account's, not the throttled one's


async def test_case_and_email_or_username_are_one_account(throttled_app: ASGIApp) -> None:
    async with from_address(throttled_app, "10.3.0.1") as client:
        user = await register(client)
        await log_in(client, "wrong password", email=user.email.upper())
        await log_in(client, "wrong password", username=user.username)
        await log_in(client, "wrong password", username=user.username.upper())
        for login in ({"email": user.email}, {"username": user.username.title()}):
            assert_problem(await log_in(client, user.password, **login), 429)


async def test_an_unknown_account_is_throttled_the_same_way(throttled_app: ASGIApp) -> None:
    unknown = f"ghost{uuid.uuid4().hex[:8]}@example.com"
    async with from_address(throttled_app, "10.4.0.1") as client:
        for _ in range(LIMIT):
            r = await log_in(client, "wrong password", email=unknown)
            assert_problem(r, 401)
        throttled = await log_in(client, "wrong password", email=unknown.upper())
        assert_problem(throttled, 429)
        assert "retry-after" in throttled.headers


async def test_a_success_clears_the_count_for_that_address(throttled_app: ASGIApp) -> None:
    async with from_address(throttled_app, "10.5.0.1") as client:
        user = await register(client)
        for _ in range(LIMIT - 1):
            await log_in(client, "wrong password", email=user.email)
        assert (await log_in(client, user.password, email=user.email)).status_code == 200
        for _ in range(LIMIT - 1):
            assert_problem(await log_in(client, "wrong password", email=user.email), 401)
        assert (await log_in(client, user.password, email=user.email)).status_code == 200


async def test_ten_times_the_limit_from_all_addresses_locks_the_account_everywhere(
    throttled_app: ASGIApp,
) -> None:
    async with from_address(throttled_app, "10.6.0.1") as client:
        user = await register(client)
    for n in range(10):
        async with from_address(throttled_app, f"10.6.1.{n}") as client:
            for _ in range(LIMIT):
                assert_problem(await log_in(client, "wrong password", email=user.email), 401)
    async with from_address(throttled_app, "10.6.2.1") as client:
        r = await log_in(client, user.password, email=user.email)
        assert_problem(r, 429)
        assert 1 <= int(r.headers["retry-after"]) <= WINDOW


@pytest.mark.parametrize("attempt", range(5))
async def test_concurrent_failures_never_get_past_the_limit(
    throttled_app: ASGIApp, db: asyncpg.Connection, attempt: int
) -> None:
    async with from_address(throttled_app, f"10.7.{attempt}.1") as client:
        user = await register(client)
        answers = await asyncio.gather(
            *(log_in(client, "wrong password", email=user.email) for _ in range(12))
        )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401] * LIMIT + [429] * (12 - LIMIT)


async def test_the_window_ends_and_old_counts_are_swept(
    throttled_app: ASGIApp, db: asyncpg.Connection
) -> None:
    async with from_address(throttled_app, "10.8.0.1") as client:
        user = await register(client)
        for _ in range(LIMIT):
            await log_in(client, "wrong password", email=user.email)
        assert_problem(await log_in(client, user.password, email=user.email), 429)
        # Time passes: the window is over.
        await db.execute(
            "UPDATE login_failures SET since = since - make_interval(secs => $1) "
            "WHERE subject = 'account:' || $2",
            WINDOW + 1,
            user.id,
        )
        assert (await log_in(client, user.password, email=user.email)).status_code == 200
    stale = f"stale-{uuid.uuid4().hex}"
    await db.execute(
        "INSERT INTO login_failures (subject, address, failures, since) "
        "VALUES ($1, '10.8.0.9', 5, now() - interval '1 day')",
        stale,
    )
    async with from_address(throttled_app, "10.8.0.2") as client:
        await log_in(client, "wrong password", email="someone@example.com")
    assert await db.fetchval("SELECT count(*) FROM login_failures WHERE subject = $1", stale) == 0


async def test_retry_after_counts_down_the_window(
    throttled_app: ASGIApp, db: asyncpg.Connection
) -> None:
    async with from_address(throttled_app, "10.9.0.1") as client:
        user = await register(client)
        for _ in range(LIMIT):
            await log_in(client, "wrong password", email=user.email)
        await db.execute(
            "UPDATE login_failures SET since = now() - interval '50 seconds' "
            "WHERE subject = 'account:' || $1",
            user.id,
        )
        r = await log_in(client, user.password, email=user.email)
        assert_problem(r, 429)
        assert 9 <= int(r.headers["retry-after"]) <= WINDOW - 50


@pytest.mark.parametrize(("allowed", "separate"), [("127.0.0.1", True), ("10.255.0.1", False)])
def test_x_forwarded_for_counts_only_from_allowed_proxies(
    database_url: str, serve: Callable[..., Server], allowed: str, separate: bool
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "LOGIN_MAX_FAILURES": str(LIMIT),
        "FORWARDED_ALLOW_IPS": allowed,
        "MIGRATE_ON_START": "false",
    }
    server = serve(env)
    name = f"p{uuid.uuid4().hex[:10]}"
    password = "right password"
    body = {"email": f"{name}@example.com", "password": password}
    assert httpx.post(f"{server.base}/api/auth/register", json=body).status_code == 201
    wrong = {"email": body["email"], "password": "wrong password"}
    for _ in range(LIMIT):
        r = httpx.post(
            f"{server.base}/api/auth/login", json=wrong, headers={"X-Forwarded-For": "203.0.113.7"}
        )
        assert r.status_code == 401
    other = httpx.post(
        f"{server.base}/api/auth/login", json=body, headers={"X-Forwarded-For": "203.0.113.8"}
    )
    # Behind a trusted proxy, the forwarded addresses are two clients; from anyone else, the
    # header is ignored and both are the connection's own address.
    assert other.status_code == (200 if separate else 429), other.text


# Password confirmations are throttled like logins (docs/api.md, "Hardening"): a wrong
# `current_password` of PUT /api/auth/password or of an email change by
# PATCH /api/auth/me, or a wrong `password` of DELETE /api/auth/me, counts as a failed login
# of the account from that address; once the limit is reached those routes answer 429 with
# Retry-After and check no password; the right one clears the count as a login does. The
# count is PostgreSQL's, so it holds across `todo-api serve`'s workers.

WRONG = "not the password"

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


async def log_in_as(client: httpx.AsyncClient, user: User, password: str) -> httpx.Response:
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
        assert_problem(await log_in_as(client, user, user.password), 429)
    async with from_address(throttled_app, "10.41.0.1") as elsewhere:
        assert (await log_in_as(elsewhere, user, user.password)).status_code == 200


@pytest.mark.parametrize("route", sorted(CONFIRMATIONS))
async def test_failed_logins_count_against_confirmations(
    throttled_app: ASGIApp, route: str
) -> None:
    confirm, _ = CONFIRMATIONS[route]
    async with from_address(throttled_app, f"10.42.{len(route)}.1") as client:
        user = await register(client)
        for _ in range(LIMIT):
            assert_problem(await log_in_as(client, user, WRONG), 401)
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
            assert_problem(await log_in_as(client, user, WRONG), 401)
        assert (await log_in_as(client, user, user.password)).status_code == 200


async def test_a_missing_password_is_403_without_counting(throttled_app: ASGIApp) -> None:
    async with from_address(throttled_app, "10.44.0.1") as client:
        user = await register(client)
        for _ in range(LIMIT + 1):
            r = await client.request("DELETE", "/api/auth/me", headers=user.headers)
            assert_problem(r, 403)
        assert (await log_in_as(client, user, user.password)).status_code == 200


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
