"""The account lifecycle as docs/api.md, "Auth and sessions", says: registration as frontends
send it, changing the account (PATCH /me), the password (PUT /password) and deleting it, and the
security checks of issue 11: tokens of ended sessions, deleted or re-registered accounts are
refused, and no response or log line carries a password, a hash or a token."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from tests.conftest import PASSWORD, TEST_SECRET, User, assert_problem, register
from todo_api.logs import access_log

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def email() -> str:
    import uuid

    return f"a{uuid.uuid4().hex[:10]}@example.com"


async def test_register_without_username_derives_one_from_the_email(
    client: httpx.AsyncClient,
) -> None:
    address = email()
    r = await client.post("/api/auth/register", json={"email": address, "password": PASSWORD})
    assert r.status_code == 201, r.text
    user = r.json()["user"]
    assert user["username"] == address.split("@")[0]
    assert user["name"] is None
    # The same local part at another domain: the next free suffix.
    again = await client.post(
        "/api/auth/register",
        json={"email": address.replace("example.com", "example.org"), "password": PASSWORD},
    )
    assert again.json()["user"]["username"] == address.split("@")[0] + "-2"


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("jo", "jo_"),
        ("a+b.c", "ab.c"),
        ("\u00e9l\u00e8ve", "lve"),
        ("x" * 40, "x" * 32),
        ("\u00e9\u00e9", "user"),
    ],
)
async def test_a_derived_username_fits_the_rule(
    client: httpx.AsyncClient, local: str, expected: str
) -> None:
    import uuid

    domain = f"d{uuid.uuid4().hex[:8]}.example.com"
    r = await client.post(
        "/api/auth/register", json={"email": f"{local}@{domain}", "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    username = r.json()["user"]["username"]
    assert username == expected or username.startswith(expected[:29] + "-")
    assert 3 <= len(username) <= 32


async def test_concurrent_registrations_deriving_one_username_all_succeed(
    client: httpx.AsyncClient,
) -> None:
    import uuid

    local = f"same{uuid.uuid4().hex[:6]}"
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/auth/register",
                json={"email": f"{local}@d{n}.example.com", "password": PASSWORD},
            )
            for n in range(8)
        )
    )
    assert [r.status_code for r in answers] == [201] * 8
    names = sorted(r.json()["user"]["username"] for r in answers)
    assert len(set(names)) == 8 and local in names


async def test_register_takes_a_name_stored_trimmed(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/register",
        json={
            "email": email(),
            "password": PASSWORD,
            "name": "  Ann Smith \u3000",
            "username": None,
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["user"]["name"] == "Ann Smith"
    me = await client.get("/api/auth/me", headers=bearer(r.json()["access_token"]))
    assert me.json()["name"] == "Ann Smith"


@pytest.mark.parametrize("name", ["x" * 101, 5, ["a"], "a\x00b"])
async def test_a_bad_name_is_422_and_nothing_is_created(
    client: httpx.AsyncClient, db: asyncpg.Connection, name: object
) -> None:
    address = email()
    r = await client.post(
        "/api/auth/register", json={"email": address, "password": PASSWORD, "name": name}
    )
    assert_problem(r, 422)
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", address) == 0


async def test_a_given_username_taken_is_409_and_nothing_is_created(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    address = email()
    r = await client.post(
        "/api/auth/register",
        json={"email": address, "password": PASSWORD, "username": user.username.upper()},
    )
    assert "username" in assert_problem(r, 409)["detail"]
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", address) == 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM sessions AS s JOIN users AS u ON u.id = s.user_id "
            "WHERE u.email = $1",
            address,
        )
        == 0
    )


async def test_patch_me_changes_username_and_name(client: httpx.AsyncClient, user: User) -> None:
    import uuid

    new = f"n{uuid.uuid4().hex[:10]}"
    r = await client.patch(
        "/api/auth/me", json={"username": new, "name": " Bo "}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["username"] == new and r.json()["name"] == "Bo"
    assert r.json()["updated_at"] > r.json()["created_at"]
    cleared = await client.patch("/api/auth/me", json={"name": None}, headers=user.headers)
    assert cleared.json()["name"] is None and cleared.json()["username"] == new
    login = await client.post("/api/auth/login", json={"username": new, "password": user.password})
    assert login.status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"foo": 1}, {"username": None}, {"email": None}, {"username": "a"}, {"email": "nope"}],
)
async def test_patch_me_refuses_nothing_to_change_and_bad_values(
    client: httpx.AsyncClient, user: User, body: dict[str, Any]
) -> None:
    assert_problem(await client.patch("/api/auth/me", json=body, headers=user.headers), 422)


async def test_patch_me_email_needs_the_current_password(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    address = email()
    for body in ({"email": address}, {"email": address, "current_password": "wrong password"}):
        assert_problem(await client.patch("/api/auth/me", json=body, headers=user.headers), 403)
    assert await db.fetchval("SELECT email FROM users WHERE id = $1", user.id) == user.email
    r = await client.patch(
        "/api/auth/me",
        json={"email": address.upper(), "current_password": user.password},
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["email"] == address
    login = await client.post("/api/auth/login", json={"email": address, "password": user.password})
    assert login.status_code == 200


async def test_patch_me_to_a_taken_value_is_409(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    r = await client.patch("/api/auth/me", json={"username": other.username}, headers=user.headers)
    assert "username" in assert_problem(r, 409)["detail"]
    r = await client.patch(
        "/api/auth/me",
        json={"email": other.email, "current_password": user.password},
        headers=user.headers,
    )
    assert "email" in assert_problem(r, 409)["detail"]


async def test_password_change_ends_every_session_and_starts_one(
    client: httpx.AsyncClient, user: User
) -> None:
    second = (
        await client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    ).json()
    wrong = await client.put(
        "/api/auth/password",
        json={"current_password": "not the password", "new_password": "new password 1"},
        headers=user.headers,
    )
    assert_problem(wrong, 403)
    assert (
        await client.get("/api/auth/me", headers=bearer(second["access_token"]))
    ).status_code == 200
    short = await client.put(
        "/api/auth/password",
        json={"current_password": user.password, "new_password": "short"},
        headers=user.headers,
    )
    assert_problem(short, 422)
    r = await client.put(
        "/api/auth/password",
        json={"current_password": user.password, "new_password": "new password 1"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    fresh = r.json()
    for token in (user.token, second["access_token"]):
        assert_problem(await client.get("/api/auth/me", headers=bearer(token)), 401)
    for token in (user.refresh_token, second["refresh_token"]):
        assert_problem(await client.post("/api/auth/refresh", json={"refresh_token": token}), 401)
    assert (await client.get(user.tasks, headers=bearer(fresh["access_token"]))).status_code == 200
    old = await client.post(
        "/api/auth/login", json={"email": user.email, "password": user.password}
    )
    assert_problem(old, 401)
    new = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "new password 1"}
    )
    assert new.status_code == 200


async def test_delete_me_needs_the_password_then_takes_everything(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    created = await client.post(user.tasks, json={"title": "t"}, headers=user.headers)
    await client.delete(f"{user.tasks}/{created.json()['id']}", headers=user.headers)
    await client.post(
        user.tasks, json={"title": "kept"}, headers={**user.headers, "Idempotency-Key": "k1"}
    )
    for body in ({}, {"password": "wrong password"}):
        assert_problem(
            await client.request("DELETE", "/api/auth/me", json=body, headers=user.headers), 403
        )
    assert_problem(await client.delete("/api/auth/me", headers=user.headers), 403)  # no body
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.id) == 1
    r = await client.request(
        "DELETE", "/api/auth/me", json={"password": user.password}, headers=user.headers
    )
    assert r.status_code == 204
    for table in ("users", "tasks", "sessions", "task_tombstones", "idempotency_keys"):
        column = "id" if table == "users" else "user_id"
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", user.id) == 0
    assert_problem(await client.get("/api/auth/me", headers=user.headers), 401)
    assert_problem(
        await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}), 401
    )
    again = await client.post(
        "/api/auth/register",
        json={"email": user.email, "username": user.username, "password": PASSWORD},
    )
    assert again.status_code == 201


async def test_a_token_of_a_re_registered_account_with_the_same_email_is_refused(
    client: httpx.AsyncClient, user: User
) -> None:
    r = await client.request(
        "DELETE", "/api/auth/me", json={"password": user.password}, headers=user.headers
    )
    assert r.status_code == 204
    again = await register(client, email=user.email, username=user.username)
    assert again.id != user.id
    for r in (
        await client.get("/api/auth/me", headers=user.headers),
        await client.get(user.tasks, headers=user.headers),
    ):
        assert_problem(r, 401)
    # The new account's tasks are not the old token's user's: refused before any lookup.
    assert_problem(await client.get(again.tasks, headers=user.headers), 403)
    # A forged token naming the new account with the old session is refused too.
    forged = jwt.encode(
        {**jwt.decode(user.token, TEST_SECRET, algorithms=["HS256"]), "sub": again.id},
        TEST_SECRET,
        algorithm="HS256",
    )
    assert_problem(await client.get("/api/auth/me", headers=bearer(forged)), 401)


async def test_a_session_of_one_user_does_not_serve_another(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    """A token whose sid is another user's session (a forged mix) is refused."""
    mixed = jwt.encode(
        {**jwt.decode(user.token, TEST_SECRET, algorithms=["HS256"]), "sid": other.session_id},
        TEST_SECRET,
        algorithm="HS256",
    )
    assert_problem(await client.get(user.tasks, headers=bearer(mixed)), 401)


@pytest.fixture
def written_lines(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """Every access-log and log line written so far in the test, when called."""
    written: list[bytes] = []
    saved = (access_log.sink, access_log.json, access_log.enabled)
    access_log.flush()
    access_log.sink, access_log.json, access_log.enabled = written.append, True, True

    def lines() -> list[str]:
        access_log.flush()
        logged = [r.getMessage() for r in caplog.records]
        return b"".join(written).decode().splitlines() + logged

    with caplog.at_level(logging.DEBUG):
        yield lines
    access_log.flush()
    access_log.sink, access_log.json, access_log.enabled = saved


@pytest.mark.in_process  # reads the in-process app's log lines
async def test_no_response_or_log_line_carries_a_password_a_hash_or_a_token(
    client: httpx.AsyncClient, db: asyncpg.Connection, written_lines: Callable[[], list[str]]
) -> None:
    password, new_password = "first secret pw", "second secret pw"
    seen: list[httpx.Response] = []

    async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        r = await client.request(method, url, **kwargs)
        seen.append(r)
        return r

    address = email()
    issued = (
        await call("POST", "/api/auth/register", json={"email": address, "password": password})
    ).json()
    user_id = issued["user"]["id"]
    auth = bearer(issued["access_token"])
    await call("POST", "/api/auth/login", json={"email": address, "password": "wrong secret pw"})
    await call("POST", "/api/auth/login", json={"email": address, "password": "x" * 100})
    await call("POST", "/api/auth/refresh", json={"refresh_token": issued["refresh_token"][:-1]})
    refreshed = (
        await call("POST", "/api/auth/refresh", json={"refresh_token": issued["refresh_token"]})
    ).json()
    await call("POST", "/api/auth/refresh", json={"refresh_token": issued["refresh_token"]})
    auth = bearer(refreshed["access_token"])
    await call("GET", "/api/auth/me", headers=auth)
    await call("GET", "/api/auth/sessions", headers=auth)
    relogged = (
        await call("POST", "/api/auth/login", json={"email": address, "password": password})
    ).json()
    auth = bearer(relogged["access_token"])
    await call(
        "PATCH",
        "/api/auth/me",
        json={"email": email(), "current_password": "bad secret pw"},
        headers=auth,
    )
    await call(
        "PUT",
        "/api/auth/password",
        json={"current_password": password, "new_password": "short"},
        headers=auth,
    )
    changed = (
        await call(
            "PUT",
            "/api/auth/password",
            json={"current_password": password, "new_password": new_password},
            headers=auth,
        )
    ).json()
    await call("GET", "/api/auth/me", headers=auth)  # refused: 401
    await call(
        "DELETE",
        "/api/auth/me",
        json={"password": "wrong secret pw"},
        headers=bearer(changed["access_token"]),
    )
    password_hash = await db.fetchval("SELECT hashed_password FROM users WHERE id = $1", user_id)
    await call(
        "DELETE",
        "/api/auth/me",
        json={"password": new_password},
        headers=bearer(changed["access_token"]),
    )

    tokens = [issued, refreshed, relogged, changed]
    secrets = [password, new_password, "wrong secret pw", "bad secret pw", password_hash]
    secrets += [t[name] for t in tokens for name in ("access_token", "refresh_token")]
    issuing = {id(r) for r in seen if r.status_code in (200, 201) and "refresh_token" in r.text}
    for r in seen:
        text = r.text + json.dumps(dict(r.headers))
        for secret in secrets if id(r) not in issuing else [password, new_password, password_hash]:
            assert secret not in text, (r.request.method, r.request.url, r.status_code)
    lines = written_lines()
    assert len(lines) >= len(seen)
    for line in lines:
        for secret in secrets:
            assert secret not in line, line
