"""Register, login (JSON and form), me, and every way a token can be wrong."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import jwt
import pytest

from tests.conftest import PASSWORD, TEST_SECRET, User, assert_problem, register

pytestmark = pytest.mark.anyio


def fresh_name() -> str:
    return f"u{uuid.uuid4().hex[:12]}"


async def test_register_returns_a_login_response_and_location(client: httpx.AsyncClient) -> None:
    name = fresh_name()
    r = await client.post(
        "/api/auth/register",
        json={
            "email": f"{name.upper()}@Example.COM",
            "username": name.upper(),
            "password": PASSWORD,
        },
    )
    assert r.status_code == 201
    assert r.headers["location"] == "/api/auth/me"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    user = body["user"]
    assert set(user) == {
        "id",
        "email",
        "username",
        "name",
        "is_active",
        "created_at",
        "updated_at",
        "time_zone",
    }
    assert user["email"] == f"{name}@example.com"
    assert user["username"] == name.upper()
    assert user["is_active"] is True
    assert user["created_at"].endswith("Z")
    uuid.UUID(user["id"])
    claims = jwt.decode(body["access_token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == user["id"]
    assert isinstance(claims["iat"], int) and claims["exp"] == claims["iat"] + 3600
    assert isinstance(claims["jti"], str)
    assert "password" not in r.text and "hash" not in r.text


async def test_me_returns_the_token_user(client: httpx.AsyncClient, user: User) -> None:
    r = await client.get("/api/auth/me", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["id"] == user.id
    assert "hashed_password" not in r.json()


@pytest.mark.parametrize("field", ["email", "username"])
async def test_taken_email_or_username_is_409_case_insensitively(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, field: str
) -> None:
    name = fresh_name()
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    body[field] = getattr(user, field).upper()
    before = await db.fetchval("SELECT count(*) FROM users")
    r = await client.post("/api/auth/register", json=body)
    problem = assert_problem(r, 409)
    assert field in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM users") == before


@pytest.mark.parametrize(
    ("password", "status"),
    [
        ("a" * 7, 422),
        ("a" * 8, 201),
        ("é" * 36, 201),  # 72 bytes in UTF-8
        ("é" * 36 + "a", 422),  # 73 bytes
        ("€" * 24, 201),  # 72 bytes
        ("€" * 24 + "é", 422),  # 74 bytes
        ("a" * 1000, 422),
        ("pass\x00word", 422),
    ],
)
async def test_password_length_is_counted_in_utf8_bytes(
    client: httpx.AsyncClient, password: str, status: int
) -> None:
    name = fresh_name()
    r = await client.post(
        "/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": password},
    )
    assert r.status_code == status, r.text
    if status == 201:
        login = await client.post("/api/auth/login", json={"username": name, "password": password})
        assert login.status_code == 200
        wrong = await client.post(
            "/api/auth/login", json={"username": name, "password": password[:-1]}
        )
        assert wrong.status_code == 401


@pytest.mark.parametrize(
    "username", ["ab", "a" * 33, "has space", "ünï", "semi;colon", "at@sign", "", "line\nbreak"]
)
async def test_bad_usernames_are_422(client: httpx.AsyncClient, username: str) -> None:
    r = await client.post(
        "/api/auth/register",
        json={"email": f"{fresh_name()}@example.com", "username": username, "password": PASSWORD},
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["loc"] == ["body", "username"]


@pytest.mark.parametrize("username", ["abc", "a" * 32, "A.b_c-9"])
async def test_good_usernames_are_accepted(client: httpx.AsyncClient, username: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    name = (username + suffix)[:32] if len(username) < 32 else username[:26] + suffix
    r = await client.post(
        "/api/auth/register",
        json={"email": f"{fresh_name()}@example.com", "username": name, "password": PASSWORD},
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "email", ["not-an-email", "a@", "@b.com", "a b@c.com", "x" * 250 + "@b.com", 42, None]
)
async def test_bad_emails_are_422(client: httpx.AsyncClient, email: object) -> None:
    r = await client.post(
        "/api/auth/register", json={"email": email, "username": fresh_name(), "password": PASSWORD}
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["loc"] == ["body", "email"]


async def test_register_missing_fields_lists_each(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/api/auth/register", json={}), 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "email"), ("body", "password")}
    assert all(e["type"] == "missing" for e in body["errors"])


@pytest.mark.parametrize("field", ["email", "username"])
async def test_login_with_email_or_username_any_case(
    client: httpx.AsyncClient, user: User, field: str
) -> None:
    login = getattr(user, field).upper()
    r = await client.post("/api/auth/login", json={field: login, "password": user.password})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["id"] == user.id
    assert body["token_type"] == "bearer"
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200


@pytest.mark.parametrize("field", ["email", "username"])
async def test_login_with_the_oauth2_form(
    client: httpx.AsyncClient, user: User, field: str
) -> None:
    form = {"grant_type": "password", "username": getattr(user, field), "password": user.password}
    r = await client.post("/api/auth/login", data=form)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == user.id


async def test_login_form_missing_password_is_422(client: httpx.AsyncClient, user: User) -> None:
    r = await client.post("/api/auth/login", data={"username": user.username})
    assert_problem(r, 422)


@pytest.mark.parametrize(
    "body",
    [
        {"password": PASSWORD},
        {"email": "a@b.com", "username": "abc", "password": PASSWORD},
        {"username": "abc"},
        {"username": 42, "password": PASSWORD},
        {"username": "abc", "password": None},
    ],
)
async def test_login_body_rules(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert_problem(await client.post("/api/auth/login", json=body), 422)


async def test_unknown_user_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, user: User
) -> None:
    wrong = await client.post(
        "/api/auth/login", json={"username": user.username, "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"username": fresh_name(), "password": "wrong password"}
    )
    too_long = await client.post(
        "/api/auth/login", json={"username": user.username, "password": "é" * 100}
    )
    bodies = []
    for r in (wrong, unknown, too_long):
        body = assert_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
        body.pop("request_id")
        bodies.append(body)
    assert bodies[0] == bodies[1] == bodies[2]


async def test_login_password_beyond_72_bytes_is_not_truncated(client: httpx.AsyncClient) -> None:
    password = "p" * 72
    user = await register(client, password=password)
    r = await client.post(
        "/api/auth/login", json={"username": user.username, "password": password + "extra"}
    )
    assert_problem(r, 401)


async def test_inactive_account_is_403_at_login_me_and_tasks(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE users SET is_active = false WHERE id = $1", user.id)
    r = await client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
    assert_problem(r, 403)
    assert_problem(await client.get("/api/auth/me", headers=user.headers), 403)
    assert_problem(await client.get(user.tasks, headers=user.headers), 403)
    r = await client.post(user.tasks, json={"title": "x"}, headers=user.headers)
    assert_problem(r, 403)
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.id) == 0


async def test_token_of_a_deleted_user_is_401(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await db.execute("DELETE FROM users WHERE id = $1", user.id)
    for r in (
        await client.get("/api/auth/me", headers=user.headers),
        await client.get(user.tasks, headers=user.headers),
        await client.post(user.tasks, json={"title": "x"}, headers=user.headers),
        await client.get(f"{user.tasks}/1", headers=user.headers),
    ):
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def sign(claims: dict[str, object], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def claims_for(user: User, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user.id,
        "sid": user.session_id,
        "iat": now,
        "exp": now + 60,
        "jti": "x",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def bad_tokens(user: User) -> dict[str, str]:
    now = int(time.time())
    unsigned = jwt.encode(claims_for(user), key="", algorithm="none")
    return {
        "expired": sign(claims_for(user, iat=now - 120, exp=now - 60)),
        "wrong key": sign(claims_for(user), key="another-secret-that-is-long-enough-000000"),
        "alg none": unsigned,
        "HS512": sign(claims_for(user), algorithm="HS512"),
        "no exp": sign(claims_for(user, exp=None)),
        "no iat": sign(claims_for(user, iat=None)),
        "no sub": sign(claims_for(user, sub=None)),
        "no sid": sign(claims_for(user, sid=None)),
        "integer sid": sign({**claims_for(user), "sid": 12}),
        "another session": sign(claims_for(user, sid=str(uuid.uuid4()))),
        "no jti": sign(claims_for(user, jti=None)),
        "integer sub": sign({**claims_for(user), "sub": 12}),
        "garbage": "not.a.token",
        "truncated": user.token[:-5],
    }


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "wrong key",
        "alg none",
        "HS512",
        "no exp",
        "no iat",
        "no sub",
        "no sid",
        "integer sid",
        "another session",
        "no jti",
        "integer sub",
        "garbage",
        "truncated",
    ],
)
async def test_bad_tokens_are_401_with_invalid_token(
    client: httpx.AsyncClient, user: User, kind: str
) -> None:
    token = bad_tokens(user)[kind]
    for r in (
        await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}),
        await client.get(user.tasks, headers={"Authorization": f"Bearer {token}"}),
    ):
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    "header",
    # A value ending in white space never crosses a real connection (clients refuse to send it).
    [None, "Basic dXNlcjpwYXNz", "Bearer", pytest.param("Bearer ", marks=pytest.mark.in_process)],
)
async def test_missing_or_non_bearer_authorization_is_401(
    client: httpx.AsyncClient, user: User, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = await client.get(user.tasks, headers=headers)
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    if header is None:
        assert r.headers["www-authenticate"] == "Bearer"


async def test_a_stale_token_does_not_block_login(client: httpx.AsyncClient, user: User) -> None:
    r = await client.post(
        "/api/auth/login",
        json={"username": user.username, "password": user.password},
        headers={"Authorization": "Bearer expired.or.broken"},
    )
    assert r.status_code == 200


async def test_token_ttl_follows_the_setting(settings: object) -> None:

    from tests.conftest import client_for, running
    from todo_api.app import create_app

    short = settings.model_copy(update={"access_token_ttl_seconds": 120})
    async with running(create_app(short)) as app, client_for(app) as client:
        user = await register(client)
        claims = jwt.decode(user.token, TEST_SECRET, algorithms=["HS256"])
        assert claims["exp"] - claims["iat"] == 120


async def test_a_token_that_worked_stops_working_when_it_expires(
    client: httpx.AsyncClient, user: User
) -> None:
    now = int(time.time())
    token = sign(claims_for(user, iat=now, exp=now + 2))
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    await asyncio.sleep(max(0.0, now + 2 - time.time()) + 0.05)
    assert_problem(await client.get("/api/auth/me", headers=headers), 401)
