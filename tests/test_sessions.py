"""Sessions as docs/api.md, "Auth and sessions", says: every login starts one, refresh
tokens work once and rotate, a reused one ends its session, and every way of ending a session
refuses its tokens on the very next request."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from tests.conftest import TEST_SECRET, User, assert_problem, client_for, register, running
from todo_api.app import create_app
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio


async def login(client: httpx.AsyncClient, user: User, **headers: str) -> dict[str, Any]:
    r = await client.post(
        "/api/auth/login",
        json={"email": user.email, "password": user.password},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(access_token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(access_token, TEST_SECRET, algorithms=["HS256"])
    return decoded


async def assert_refused(client: httpx.AsyncClient, user: User, access_token: str) -> None:
    """The access token is refused (401) on every kind of route."""
    for r in (
        await client.get("/api/auth/me", headers=bearer(access_token)),
        await client.get(user.tasks, headers=bearer(access_token)),
        await client.post(user.tasks, json={"title": "x"}, headers=bearer(access_token)),
        await client.get("/api/auth/sessions", headers=bearer(access_token)),
    ):
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_login_and_register_each_start_a_session_named_in_the_token(
    client: httpx.AsyncClient, user: User
) -> None:
    first = claims(user.token)
    again = await login(client, user)
    second = claims(again["access_token"])
    assert first["sid"] != second["sid"]
    assert isinstance(first["sid"], str) and first["sub"] == second["sub"] == user.id
    assert again["refresh_expires_in"] == 2_592_000
    assert again["expires_in"] == 3600 and again["token_type"] == "bearer"
    listed = (await client.get("/api/auth/sessions", headers=bearer(again["access_token"]))).json()
    assert [s["id"] for s in listed] == [second["sid"], first["sid"]]  # newest first
    assert [s["current"] for s in listed] == [True, False]


async def test_refresh_tokens_are_opaque_random_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    token = user.refresh_token
    assert len(token) >= 43 and token.count(".") == 0  # 256 bits in base64url, not a JWT
    stored = await db.fetch(
        "SELECT r.token_hash FROM refresh_tokens AS r JOIN sessions AS s ON s.id = r.session_id "
        "WHERE s.user_id = $1",
        user.id,
    )
    assert [bytes(r["token_hash"]) for r in stored] == [hashlib.sha256(token.encode()).digest()]
    dump = await db.fetchval("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM sessions) AS t")
    assert token not in (dump or "")


async def test_refresh_gives_new_tokens_of_the_same_session_once(
    client: httpx.AsyncClient, user: User
) -> None:
    r = await refresh(client, user.refresh_token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "user",
    }
    assert body["refresh_token"] != user.refresh_token
    assert claims(body["access_token"])["sid"] == claims(user.token)["sid"]
    assert body["user"]["id"] == user.id
    me = await client.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    # The new refresh token works in turn.
    assert (await refresh(client, body["refresh_token"])).status_code == 200


async def test_a_reused_refresh_token_is_401_and_ends_its_session(
    client: httpx.AsyncClient, user: User
) -> None:
    rotated = (await refresh(client, user.refresh_token)).json()
    reused = await refresh(client, user.refresh_token)
    assert_problem(reused, 401)
    # The thief's replay ends the session: its latest tokens stop working at once.
    await assert_refused(client, user, rotated["access_token"])
    await assert_refused(client, user, user.token)
    assert_problem(await refresh(client, rotated["refresh_token"]), 401)
    # Other sessions of the user are not touched.
    other = await login(client, user)
    assert (await client.get(user.tasks, headers=bearer(other["access_token"]))).status_code == 200


@pytest.mark.parametrize("attempt", range(10))
async def test_two_concurrent_refreshes_with_one_token_give_new_tokens_to_exactly_one(
    client: httpx.AsyncClient, attempt: int
) -> None:
    user = await register(client)
    answers = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(2)))
    assert sorted(r.status_code for r in answers) == [200, 401]


async def test_unknown_malformed_and_wrong_type_refresh_tokens(
    client: httpx.AsyncClient, user: User
) -> None:
    for token in ("", "x", "a" * 43, "a" * 5000, user.token, "\u00e9" * 10):
        assert_problem(await refresh(client, token), 401)
    assert_problem(await client.post("/api/auth/refresh", json={}), 422)
    assert_problem(await client.post("/api/auth/refresh", json={"refresh_token": 5}), 422)
    assert_problem(await client.post("/api/auth/refresh", json={"refresh_token": None}), 422)
    malformed = await client.post(
        "/api/auth/refresh", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert_problem(malformed, 400)


async def test_an_access_token_is_not_a_refresh_token_nor_the_other_way(
    client: httpx.AsyncClient, user: User
) -> None:
    assert_problem(await refresh(client, user.token), 401)
    r = await client.get("/api/auth/me", headers=bearer(user.refresh_token))
    assert_problem(r, 401)
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 200


async def test_logout_ends_the_session_and_only_it(client: httpx.AsyncClient, user: User) -> None:
    other = await login(client, user)
    r = await client.post("/api/auth/logout", headers=user.headers)
    assert r.status_code == 204 and r.content == b""
    await assert_refused(client, user, user.token)
    assert_problem(await refresh(client, user.refresh_token), 401)
    assert (
        await client.get("/api/auth/me", headers=bearer(other["access_token"]))
    ).status_code == 200
    assert_problem(await client.post("/api/auth/logout", headers=user.headers), 401)


async def test_deleting_one_session_refuses_its_tokens_and_404s_for_others(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    second = await login(client, user)
    sid = claims(second["access_token"])["sid"]
    # Another user's session, or one that does not exist: 404, nothing ended.
    r = await client.delete(f"/api/auth/sessions/{sid}", headers=other.headers)
    assert_problem(r, 404)
    assert_problem(
        await client.delete(f"/api/auth/sessions/{uuid.uuid4()}", headers=user.headers), 404
    )
    assert (
        await client.get("/api/auth/me", headers=bearer(second["access_token"]))
    ).status_code == 200
    r = await client.delete(f"/api/auth/sessions/{sid}", headers=user.headers)
    assert r.status_code == 204
    await assert_refused(client, user, second["access_token"])
    assert_problem(await refresh(client, second["refresh_token"]), 401)
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 200


async def test_sessions_list_shows_only_the_callers_with_user_agent_cut(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    agent = "Mozilla/5.0 " + "x" * 300
    await login(client, user, **{"User-Agent": agent})
    mine = (await client.get("/api/auth/sessions", headers=user.headers)).json()
    theirs = (await client.get("/api/auth/sessions", headers=other.headers)).json()
    assert {s["id"] for s in mine}.isdisjoint({s["id"] for s in theirs})
    assert len(theirs) == 1 and theirs[0]["current"]
    newest = mine[0]
    assert newest["user_agent"] == agent[:200]
    assert set(newest) == {"id", "created_at", "last_used_at", "user_agent", "current"}
    assert newest["created_at"].endswith("Z")


async def test_refresh_moves_last_used_at(client: httpx.AsyncClient, user: User) -> None:
    before = (await client.get("/api/auth/sessions", headers=user.headers)).json()[0]
    await asyncio.sleep(0.01)
    body = (await refresh(client, user.refresh_token)).json()
    after = (await client.get("/api/auth/sessions", headers=bearer(body["access_token"]))).json()
    assert after[0]["id"] == before["id"]
    assert after[0]["last_used_at"] > before["last_used_at"]
    assert after[0]["created_at"] == before["created_at"]


async def test_ending_every_session_includes_the_current_one(
    client: httpx.AsyncClient, user: User
) -> None:
    other = await login(client, user)
    r = await client.delete("/api/auth/sessions", headers=user.headers)
    assert r.status_code == 204
    await assert_refused(client, user, user.token)
    await assert_refused(client, user, other["access_token"])
    assert_problem(await refresh(client, other["refresh_token"]), 401)
    assert (await login(client, user))["access_token"]


async def test_a_session_of_another_user_cannot_be_ended_or_seen(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    sid = claims(other.token)["sid"]
    assert_problem(await client.delete(f"/api/auth/sessions/{sid}", headers=user.headers), 404)
    assert (await client.get("/api/auth/me", headers=other.headers)).status_code == 200
    listed = (await client.get("/api/auth/sessions", headers=user.headers)).json()
    assert sid not in {s["id"] for s in listed}


async def test_refresh_expiry_and_the_session_limit_hold(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """Lifetimes in the database, moved into the past as time would."""
    short = settings.model_copy(
        update={"refresh_token_ttl_seconds": 120, "session_max_seconds": 300}
    )
    async with running(create_app(short)) as app, client_for(app) as client:
        user = await register(client)
        first = (await refresh(client, user.refresh_token)).json()
        assert 119 <= first["refresh_expires_in"] <= 120
        # The refresh token expired: 401, and its session is left alone.
        await db.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = $1",
            hashlib.sha256(first["refresh_token"].encode()).digest(),
        )
        assert_problem(await refresh(client, first["refresh_token"]), 401)
        assert (
            await client.get(user.tasks, headers=bearer(first["access_token"]))
        ).status_code == 200
        # The session's absolute limit: a refresh token never outlives it, and when it passes
        # every token of the session is refused, however fresh.
        second = await login(client, user)
        sid = claims(second["access_token"])["sid"]
        await db.execute(
            "UPDATE sessions SET ends_at = now() + interval '30 seconds' WHERE id = $1", sid
        )
        near_end = (await refresh(client, second["refresh_token"])).json()
        assert near_end["refresh_expires_in"] <= 30
        await db.execute("UPDATE sessions SET ends_at = now() WHERE id = $1", sid)
        await assert_refused(client, user, near_end["access_token"])
        assert_problem(await refresh(client, near_end["refresh_token"]), 401)


async def test_an_inactive_account_cannot_refresh(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE users SET is_active = false WHERE id = $1", user.id)
    assert_problem(await refresh(client, user.refresh_token), 403)
    assert_problem(await client.get("/api/auth/me", headers=user.headers), 403)
    await db.execute("UPDATE users SET is_active = true WHERE id = $1", user.id)
    assert (await refresh(client, user.refresh_token)).status_code == 200  # nothing was spent


@pytest.mark.parametrize("attempt", range(20))
async def test_refreshes_racing_logouts_and_session_ends_never_fail(
    client: httpx.AsyncClient, attempt: int
) -> None:
    """Ending a session locks it, then its refresh tokens; a refresh takes them in that order
    too, so a refresh racing a logout never deadlocks into a server error."""
    user = await register(client)
    second = await login(client, user)
    answers = await asyncio.gather(
        refresh(client, user.refresh_token),
        refresh(client, second["refresh_token"]),
        client.post("/api/auth/logout", headers=user.headers),
        client.delete("/api/auth/sessions", headers=bearer(second["access_token"])),
        refresh(client, user.refresh_token),
    )
    assert all(r.status_code < 500 for r in answers), [r.text for r in answers]
    # However the race went, every session has ended by now.
    assert_problem(await client.get("/api/auth/me", headers=user.headers), 401)
