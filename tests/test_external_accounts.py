"""A trusted external issuer end to end (docs/api.md, "Trusted external issuer"): the app
with AUTH_JWKS_URL pointing at a real key-set server on loopback, keys made in the test. Its
tokens act like ours on every route, make their account on first use, never act as an account
registered here, and refused ones make nobody."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.types import ASGIApp

from tests.conftest import assert_problem, client_for, register, running
from tests.keysets import (
    AUDIENCE,
    ED_NEW,
    ISSUER,
    RSA,
    STANDARD_SET,
    KeySetServer,
    claims,
    hand_made,
    jwk,
    key_set,
    token,
)
from todo_api.app import create_app
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def key_server() -> Iterator[KeySetServer]:
    server = KeySetServer(STANDARD_SET)
    yield server
    server.stop()


@pytest.fixture
async def client(settings: Settings, key_server: KeySetServer) -> AsyncIterator[httpx.AsyncClient]:
    trusting = settings.model_copy(
        update={"auth_jwks_url": key_server.url, "auth_issuer": ISSUER, "auth_audience": AUDIENCE}
    )
    app: ASGIApp
    async with running(create_app(trusting)) as app, client_for(app) as c:
        yield c


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def subject() -> str:
    return f"issuer-user-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("kid", ["ed", "rsa", "ec"])
async def test_the_first_token_of_a_sub_makes_its_account_and_it_manages_tasks(
    client: httpx.AsyncClient, db: asyncpg.Connection, kid: str
) -> None:
    sub = subject()
    local = f"Ada.{uuid.uuid4().hex[:6]}"
    headers = bearer(token(kid, sub=sub, email=f"{local}@Example.com", name=" Ada L "))
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    user = me.json()
    assert user["id"] == sub
    assert user["email"] == f"{local.lower()}@example.com"
    assert user["username"] == local.lower() and user["name"] == "Ada L"
    created = await client.post(
        f"/api/{sub}/tasks", json={"title": "from the app"}, headers=headers
    )
    assert created.status_code == 201, created.text
    listed = await client.get(f"/api/{sub}/tasks", headers=headers)
    assert [t["title"] for t in listed.json()] == ["from the app"]
    # Later tokens find the same account.
    again = await client.get("/api/auth/me", headers=bearer(token(kid, sub=sub, jti="2")))
    assert again.json()["id"] == sub
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", sub) == 1


async def test_an_email_that_is_taken_or_missing_leaves_the_account_without_one(
    client: httpx.AsyncClient,
) -> None:
    local = await register(client)
    taken = await client.get(
        "/api/auth/me", headers=bearer(token(sub=subject(), email=local.email))
    )
    assert taken.status_code == 200 and taken.json()["email"] is None
    none = await client.get("/api/auth/me", headers=bearer(token(sub=subject(), email=None)))
    assert none.status_code == 200 and none.json()["email"] is None
    assert none.json()["username"] == "user" or none.json()["username"].startswith("user-")


@pytest.mark.parametrize(
    "kind",
    ["wrong aud", "wrong iss", "expired", "no exp", "unknown key", "hs256 public key", "none"],
)
async def test_a_refused_token_is_401_and_makes_nobody(
    client: httpx.AsyncClient, db: asyncpg.Connection, kind: str
) -> None:
    sub = subject()
    pem = RSA.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bad = {
        "wrong aud": lambda: token(sub=sub, aud="https://elsewhere.example.com"),
        "wrong iss": lambda: token(sub=sub, iss="https://evil.example.com"),
        "expired": lambda: token(sub=sub, iat=1, exp=2),
        "no exp": lambda: token(sub=sub, exp=None),
        "unknown key": lambda: token("ed", signer="ed-new", sub=sub),
        "hs256 public key": lambda: hand_made(
            {"alg": "HS256", "typ": "JWT", "kid": "rsa"}, claims(sub=sub), pem
        ),
        "none": lambda: hand_made({"alg": "none", "typ": "JWT"}, claims(sub=sub), None),
    }[kind]()
    for r in (
        await client.get("/api/auth/me", headers=bearer(bad)),
        await client.get(f"/api/{sub}/tasks", headers=bearer(bad)),
    ):
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", sub) == 0


async def test_an_issuer_can_never_act_as_an_account_registered_here(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    local = await register(client)
    forged = bearer(token(sub=local.id, email=local.email))
    for r in (
        await client.get("/api/auth/me", headers=forged),
        await client.get(local.tasks, headers=forged),
        await client.post(local.tasks, json={"title": "x"}, headers=forged),
    ):
        assert_problem(r, 401)
    assert await db.fetchval("SELECT external FROM users WHERE id = $1", local.id) is False
    assert (await client.get("/api/auth/me", headers=local.headers)).status_code == 200


async def test_issuer_tokens_have_no_session_here(client: httpx.AsyncClient) -> None:
    headers = bearer(token(sub=subject()))
    for method, path, body in (
        ("POST", "/api/auth/logout", None),
        ("GET", "/api/auth/sessions", None),
        ("DELETE", "/api/auth/sessions", None),
        ("DELETE", f"/api/auth/sessions/{uuid.uuid4()}", None),
        ("DELETE", "/api/auth/me", {"password": "anything at all"}),
    ):
        r = await client.request(method, path, json=body, headers=headers)
        assert_problem(r, 403)


async def test_deactivating_an_issuer_account_makes_its_tokens_403(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    sub = subject()
    headers = bearer(token(sub=sub))
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    await db.execute("UPDATE users SET is_active = false WHERE id = $1", sub)
    assert_problem(await client.get("/api/auth/me", headers=headers), 403)
    assert_problem(await client.get(f"/api/{sub}/tasks", headers=headers), 403)


async def test_our_own_tokens_keep_working_beside_the_issuers(client: httpx.AsyncClient) -> None:
    local = await register(client)
    assert (await client.get(local.tasks, headers=local.headers)).status_code == 200


async def test_an_unreachable_key_set_refuses_issuer_tokens_and_serves_ours(
    settings: Settings, key_server: KeySetServer
) -> None:
    key_server.stop()
    trusting = settings.model_copy(update={"auth_jwks_url": key_server.url})
    async with running(create_app(trusting)) as app, client_for(app) as client:
        assert_problem(await client.get("/api/auth/me", headers=bearer(token(sub=subject()))), 401)
        local = await register(client)
        assert (await client.get("/api/auth/me", headers=local.headers)).status_code == 200


# An issuer's `sub` (docs/api.md, "Hardening"): 1 to 255
# characters, no control character, no white space, no `/ ? # %`; any other is 401 and makes
# nobody. The URLs the service builds from an accepted one (Location, Link) percent-encode it
# and lead back to the account's tasks. And an attack that held, kept: `jku` is never followed.

SEGMENT_SAFE = "!$&'()*+,;=:@"  # RFC 3986 pchar: left as they are in a path segment
NEXT_LINK = re.compile(r'^<([^>]*)>; rel="next"$')


def unique() -> str:
    return uuid.uuid4().hex[:10]


REFUSED = {
    "NUL": lambda u: f"user\x00{u}",
    "3000 characters": lambda u: u + "a" * 2990,
    "256 characters": lambda u: u + "a" * 246,
    "CR LF": lambda u: f"user-{u}\r\nX-Injected: yes",
    "slash": lambda u: f"org/{u}",
    "question mark": lambda u: f"user?{u}",
    "hash": lambda u: f"user#{u}",
    "percent": lambda u: f"user%20{u}",
    "space": lambda u: f"user {u}",
    "tab": lambda u: f"user\t{u}",
    "no-break space": lambda u: f"user\u00a0{u}",
    "escape": lambda u: f"user\x1b{u}",
    "DEL": lambda u: f"user\x7f{u}",
}


@pytest.mark.parametrize("kind", REFUSED)
async def test_a_sub_outside_the_rule_is_401_and_makes_nobody(
    client: httpx.AsyncClient, db: asyncpg.Connection, kind: str
) -> None:
    sub = REFUSED[kind](unique())
    headers = bearer(token("ed", sub=sub))
    assert_problem(await client.get("/api/auth/me", headers=headers), 401)
    patched = await client.patch("/api/auth/me", json={"name": "x"}, headers=headers)
    assert_problem(patched, 401)
    assert (
        await db.fetchval("SELECT count(*) FROM users WHERE id = $1", sub.replace("\x00", "")) == 0
    )


ACCEPTED = [
    "auth0|{u}",
    "{u}:a;b=c&d+e@f!$'()*,",
    'quoted"{u}"<angle>',
    "ünïcødé-用户-{u}",
    "back\\slash{u}",
    "{u}" + "z" * 245,  # 255 characters
]


@pytest.mark.parametrize("pattern", ACCEPTED)
async def test_urls_built_from_an_accepted_sub_are_percent_encoded_and_lead_back(
    client: httpx.AsyncClient, pattern: str
) -> None:
    sub = pattern.format(u=unique())
    headers = bearer(token("ed", sub=sub))
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["id"] == sub
    tasks = f"/api/{quote(sub, safe='')}/tasks"
    locations = []
    for title in ("one", "two"):
        made = await client.post(tasks, json={"title": title}, headers=headers)
        assert made.status_code == 201, made.text
        location = made.headers["location"]
        segment = quote(sub, safe=SEGMENT_SAFE)
        assert location == f"/api/{segment}/tasks/{made.json()['id']}"
        assert all(c.isascii() and c.isprintable() and c not in ' "<>\\' for c in location)
        locations.append(location)
    got = await client.get(locations[0], headers=headers)
    assert got.status_code == 200 and got.json()["title"] == "one"

    first = await client.get(tasks, params={"limit": 1}, headers=headers)
    found = NEXT_LINK.match(first.headers["link"])
    assert found is not None, first.headers["link"]
    link = found.group(1)
    assert all(c.isascii() and c.isprintable() and c not in ' "<>\\' for c in link)
    second = await client.get(link, headers=headers)
    assert second.status_code == 200, second.text
    assert [t["title"] for t in first.json() + second.json()] == ["two", "one"]


async def test_a_jku_header_is_never_followed(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    attacker = KeySetServer(
        key_set({**jwk("ed-new"), "kid": "evil"}, {**jwk("ed-new"), "kid": "ed"})
    )
    try:
        sub = f"jku-{unique()}"
        for kid in ("evil", "ed"):
            forged = jwt.encode(
                claims(sub=sub),
                ED_NEW,
                algorithm="EdDSA",
                headers={"kid": kid, "jku": attacker.url},
            )
            assert_problem(await client.get("/api/auth/me", headers=bearer(forged)), 401)
        assert attacker.requests == 0
        assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", sub) == 0
    finally:
        attacker.stop()


async def test_an_account_made_by_an_issuers_first_token_has_its_inbox(
    client: httpx.AsyncClient,
) -> None:
    sub = subject()
    headers = bearer(token("ed", sub=sub))
    lists = await client.get(f"/api/{sub}/lists", headers=headers)
    assert lists.status_code == 200, lists.text
    assert [(lst["name"], lst["is_default"]) for lst in lists.json()] == [("Inbox", True)]
    created = await client.post(f"/api/{sub}/tasks", json={"title": "t"}, headers=headers)
    assert created.json()["list_id"] == lists.json()[0]["id"]
