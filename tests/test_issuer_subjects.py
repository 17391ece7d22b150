"""A trusted issuer's `sub` over HTTP (../shared/API.md, "Hardening found from outside"): 1 to
255 characters, no control character, no white space, no `/ ? # %`; any other is 401 and makes
nobody. The URLs the service builds from an accepted one (Location, Link) percent-encode it and
lead back to the account's tasks. Also the attacks that held, kept as regressions: a `jku`
header is never followed."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import asyncpg
import httpx
import jwt
import pytest
from starlette.types import ASGIApp

from tests.conftest import assert_problem, client_for, running
from tests.keysets import (
    AUDIENCE,
    ED_NEW,
    ISSUER,
    STANDARD_SET,
    KeySetServer,
    claims,
    jwk,
    key_set,
    token,
)
from todo_api.app import create_app
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio

SEGMENT_SAFE = "!$&'()*+,;=:@"  # RFC 3986 pchar: left as they are in a path segment
NEXT_LINK = re.compile(r'^<([^>]*)>; rel="next"$')


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
