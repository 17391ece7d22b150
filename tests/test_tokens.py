"""Personal access tokens as docs/api.md, "Personal access tokens", says: shown once and
kept only as a hash, listed newest first without the token, revoked at once, expiring, at most
20 a user (even when made at the same moment), `read` tokens only read, no /api/auth/ route but
GET /api/auth/me, and the account's state applied as for any token."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task, register

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_token(client: httpx.AsyncClient, user: User, **fields: Any) -> dict[str, Any]:
    body = {"name": "my script", **fields}
    r = await client.post("/api/auth/tokens", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_token_is_shown_once_and_only_its_hash_is_kept(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    made = await make_token(client, user)
    assert set(made) == {
        "id",
        "name",
        "scope",
        "token",
        "created_at",
        "expires_at",
        "last_used_at",
    }
    assert made["name"] == "my script" and made["scope"] == "write"
    assert made["last_used_at"] is None
    token = made["token"]
    assert token.startswith("tdo_") and len(token) >= 4 + 43  # 256 bits, URL-safe base64
    row = await db.fetchrow("SELECT * FROM personal_tokens WHERE id = $1", made["id"])
    assert row["token_hash"] == hashlib.sha256(token.encode()).digest()
    assert token not in str(dict(row))
    listed = (await client.get("/api/auth/tokens", headers=user.headers)).json()
    assert [t["id"] for t in listed] == [made["id"]]
    assert "token" not in listed[0]


async def test_a_token_acts_for_its_user_on_their_tasks_and_reads_their_account(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    token = (await make_token(client, user))["token"]
    r = await client.post(user.tasks, json={"title": "from a script"}, headers=bearer(token))
    assert r.status_code == 201, r.text
    r = await client.get(user.tasks, headers=bearer(token))
    assert [t["title"] for t in r.json()] == ["from a script"]
    me = await client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["id"] == user.id
    assert_problem(await client.get(other.tasks, headers=bearer(token)), 403)


async def test_the_list_is_newest_first(client: httpx.AsyncClient, user: User) -> None:
    made = [await make_token(client, user, name=f"t{n}") for n in range(3)]
    listed = (await client.get("/api/auth/tokens", headers=user.headers)).json()
    assert [t["id"] for t in listed] == [t["id"] for t in reversed(made)]
    assert [t["name"] for t in listed] == ["t2", "t1", "t0"]


async def test_no_auth_route_but_reading_me_takes_a_personal_token(
    client: httpx.AsyncClient, user: User
) -> None:
    token = (await make_token(client, user))["token"]
    h = bearer(token)
    refused = [
        await client.post("/api/auth/tokens", json={"name": "another"}, headers=h),
        await client.get("/api/auth/tokens", headers=h),
        await client.delete("/api/auth/tokens/1", headers=h),
        await client.get("/api/auth/sessions", headers=h),
        await client.delete("/api/auth/sessions", headers=h),
        await client.post("/api/auth/logout", headers=h),
        await client.patch("/api/auth/me", json={"name": "x"}, headers=h),
        await client.patch("/api/auth/me", json={}, headers=h),  # refused before the body
        await client.request("DELETE", "/api/auth/me", json={"password": user.password}, headers=h),
        await client.put(
            "/api/auth/password",
            json={"current_password": user.password, "new_password": "another password"},
            headers=h,
        ),
        await client.post("/api/auth/refresh", json={"refresh_token": "x"}, headers=h),
    ]
    for r in refused:
        assert_problem(r, 403)
    assert (await client.get("/api/auth/me", headers=h)).status_code == 200
    # Nothing changed: the account and its session are as they were.
    assert (await client.get("/api/auth/me", headers=user.headers)).json()["name"] is None


async def test_a_read_token_only_reads(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, title="keep me")
    token = (await make_token(client, user, scope="read"))["token"]
    h = bearer(token)
    assert (await client.get(user.tasks, headers=h)).status_code == 200
    assert (await client.get(f"{user.tasks}/{task['id']}", headers=h)).status_code == 200
    assert (await client.head(f"{user.tasks}/{task['id']}", headers=h)).status_code == 200
    assert (await client.get(f"/api/{user.id}/tags", headers=h)).status_code == 200
    item = f"{user.tasks}/{task['id']}"
    for r in (
        await client.post(user.tasks, json={"title": "no"}, headers=h),
        await client.post(user.tasks, json={}, headers=h),  # refused before the body
        await client.put(item, json={"title": "no"}, headers=h),
        await client.patch(f"{item}/complete", headers=h),
        await client.post(f"{item}/move", json={"after": None}, headers=h),
        await client.delete(item, headers=h),
        await client.post(f"{user.tasks}/clear-completed", headers=h),
    ):
        assert_problem(r, 403)
    tasks = (await client.get(user.tasks, headers=user.headers)).json()
    assert [(t["title"], t["version"]) for t in tasks] == [("keep me", 1)]


async def test_a_deleted_token_is_refused_at_once(client: httpx.AsyncClient, user: User) -> None:
    made = await make_token(client, user)
    h = bearer(made["token"])
    assert (await client.get(user.tasks, headers=h)).status_code == 200  # now known and cached
    r = await client.delete(f"/api/auth/tokens/{made['id']}", headers=user.headers)
    assert r.status_code == 204
    for r in (
        await client.get(user.tasks, headers=h),
        await client.post(user.tasks, json={"title": "x"}, headers=h),
        await client.get("/api/auth/me", headers=h),
    ):
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert (await client.get("/api/auth/tokens", headers=user.headers)).json() == []
    again = await client.delete(f"/api/auth/tokens/{made['id']}", headers=user.headers)
    assert_problem(again, 404)


async def test_another_users_or_a_missing_token_is_not_found(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    theirs = await make_token(client, other)
    for path in (f"/api/auth/tokens/{theirs['id']}", "/api/auth/tokens/0", "/api/auth/tokens/x"):
        assert_problem(await client.delete(path, headers=user.headers), 404)
    h = bearer(theirs["token"])
    assert (await client.get(other.tasks, headers=h)).status_code == 200


async def test_expiry_defaults_to_90_days_and_null_never_expires(
    client: httpx.AsyncClient, user: User
) -> None:
    default = await make_token(client, user)
    lifetime = when(default["expires_at"]) - when(default["created_at"])
    assert abs(lifetime - timedelta(days=90)) < timedelta(seconds=5)
    short = await make_token(client, user, expires_in_days=1)
    lifetime = when(short["expires_at"]) - when(short["created_at"])
    assert abs(lifetime - timedelta(days=1)) < timedelta(seconds=5)
    never = await make_token(client, user, expires_in_days=None)
    assert never["expires_at"] is None
    assert (await make_token(client, user, expires_in_days=365))["expires_at"] is not None


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {},
        {"name": "x", "scope": "admin"},
        {"name": "x", "scope": None},
        {"name": "x", "expires_in_days": 0},
        {"name": "x", "expires_in_days": 366},
        {"name": "x", "expires_in_days": "30"},
        {"name": "x", "expires_in_days": 1.5},
    ],
)
async def test_a_body_against_the_rules_is_422(
    client: httpx.AsyncClient, user: User, body: dict[str, Any]
) -> None:
    r = await client.post("/api/auth/tokens", json=body, headers=user.headers)
    assert_problem(r, 422)
    assert (await client.get("/api/auth/tokens", headers=user.headers)).json() == []


async def test_an_expired_token_is_refused_and_no_longer_listed(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    made = await make_token(client, user)
    h = bearer(made["token"])
    assert (await client.get(user.tasks, headers=h)).status_code == 200  # now known and cached
    await db.execute(
        "UPDATE personal_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        made["id"],
    )
    assert_problem(await client.get(user.tasks, headers=h), 401)
    assert (await client.get("/api/auth/tokens", headers=user.headers)).json() == []


async def test_at_most_20_tokens_a_user_and_expired_ones_do_not_count(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    made = [await make_token(client, user, name=f"t{n}") for n in range(20)]
    r = await client.post("/api/auth/tokens", json={"name": "one more"}, headers=user.headers)
    assert_problem(r, 422)
    assert len((await client.get("/api/auth/tokens", headers=user.headers)).json()) == 20
    r = await client.delete(f"/api/auth/tokens/{made[0]['id']}", headers=user.headers)
    assert r.status_code == 204
    await make_token(client, user, name="in its place")
    await db.execute(
        "UPDATE personal_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        made[1]["id"],
    )
    await make_token(client, user, name="in the expired one's place")
    stored = await db.fetchval("SELECT count(*) FROM personal_tokens WHERE user_id = $1", user.id)
    assert stored == 20  # the expired one went when the next was made


async def test_tokens_made_at_the_same_moment_never_pass_20(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    async def attempt(n: int) -> int:
        r = await client.post("/api/auth/tokens", json={"name": f"t{n}"}, headers=user.headers)
        return r.status_code

    statuses = await asyncio.gather(*(attempt(n) for n in range(30)))
    assert sorted(statuses) == [201] * 20 + [422] * 10
    stored = await db.fetchval("SELECT count(*) FROM personal_tokens WHERE user_id = $1", user.id)
    assert stored == 20


async def test_only_a_sessions_token_makes_or_lists_tokens(
    client: httpx.AsyncClient, user: User
) -> None:
    token = (await make_token(client, user))["token"]
    r = await client.post("/api/auth/tokens", json={"name": "x"}, headers=bearer(token))
    assert_problem(r, 403)
    r = await client.post("/api/auth/tokens", json={"name": "x"})
    assert_problem(r, 401)


async def test_a_deactivated_account_s_tokens_get_403_and_a_deleted_one_s_401(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(client)
    token = (await make_token(client, user))["token"]
    h = bearer(token)
    assert (await client.get(user.tasks, headers=h)).status_code == 200
    await db.execute("UPDATE users SET is_active = false WHERE id = $1", user.id)
    assert_problem(await client.get(user.tasks, headers=h), 403)
    assert_problem(await client.get("/api/auth/me", headers=h), 403)
    await db.execute("UPDATE users SET is_active = true WHERE id = $1", user.id)
    assert (await client.get(user.tasks, headers=h)).status_code == 200
    r = await client.request(
        "DELETE", "/api/auth/me", json={"password": user.password}, headers=user.headers
    )
    assert r.status_code == 204
    for r in (await client.get(user.tasks, headers=h), await client.get("/api/auth/me", headers=h)):
        assert_problem(r, 401)


async def test_an_unknown_or_malformed_personal_token_is_401(
    client: httpx.AsyncClient, user: User
) -> None:
    for token in ("tdo_", "tdo_" + "A" * 43, "tdo_" + "A" * 500):
        r = await client.get(user.tasks, headers=bearer(token))
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.in_process  # one process: another replica would record its own first use
async def test_last_used_at_is_recorded_at_first_use_and_not_on_every_request(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    made = await make_token(client, user)
    h = bearer(made["token"])
    assert (await client.get(user.tasks, headers=h)).status_code == 200
    first = await db.fetchval("SELECT last_used_at FROM personal_tokens WHERE id = $1", made["id"])
    assert first is not None
    listed = (await client.get("/api/auth/tokens", headers=user.headers)).json()
    assert listed[0]["last_used_at"] is not None
    for _ in range(3):
        assert (await client.get(user.tasks, headers=h)).status_code == 200
    again = await db.fetchval("SELECT last_used_at FROM personal_tokens WHERE id = $1", made["id"])
    assert again == first  # within the minute: no write per request
    assert datetime.now(UTC) - first < timedelta(minutes=1)


async def test_the_document_describes_the_token_routes_and_mcp(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    statuses = {
        ("/api/auth/tokens", "post"): {"201", "400", "401", "403", "413", "415", "422", "503"},
        ("/api/auth/tokens", "get"): {"200", "401", "403", "503"},
        ("/api/auth/tokens/{token_id}", "delete"): {"204", "401", "403", "404", "503"},
    }
    for (path, method), expected in statuses.items():
        assert set(paths[path][method]["responses"]) == expected, (path, method)
    created = document["components"]["schemas"]["TokenCreated"]
    assert {"id", "name", "scope", "token", "created_at", "expires_at"} <= set(created["required"])
    listed = document["components"]["schemas"]["TokenOut"]["properties"]
    assert "token" not in listed
    body = document["components"]["schemas"]["TokenCreate"]["properties"]
    assert body["expires_in_days"]["anyOf"][0]["maximum"] == 365
    description = document["info"]["description"]
    assert "/mcp" in description and "todo-api mcp" in description
    assert "TODO_API_TOKEN" in description
