"""Better Auth, the real library, signing users in for todo-api as docs/better-auth.md sets it
up (README.md and docs/api.md, "Trusted external issuer"): a Node server with Better Auth and
its JWT plugin on loopback (tests/frontend/better-auth-server.mjs), its tables in a database of
the test's PostgreSQL, and `todo-api serve` configured with AUTH_JWKS_URL, AUTH_ISSUER and
AUTH_AUDIENCE pointing at it. A user signs up with Better Auth, the frontend's way of getting
the JWT (the plugin's /api/auth/token, or the `set-auth-jwt` header of /api/auth/get-session)
gives a token todo-api accepts: the account is made on first use and tasks work; an expired
token is 401; a key rotated in is picked up by refetching the key set, at most once a minute."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from tests.conftest import PASSWORD
from tests.node_tools import FRONTEND, node_with_packages
from todo_api.testing import ROOT, TEST_SECRET, Server, free_port, fresh_database


@dataclass
class BetterAuth:
    url: str  # the app's origin, as Better Auth's baseURL: the tokens' iss and aud
    database_url: str
    process: subprocess.Popen[str]
    log: Any

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/api/auth/jwks"

    def requests(self) -> list[str]:
        """The request lines it logged ("GET /api/auth/jwks"), oldest first."""
        self.log.seek(0)
        return [line.strip() for line in self.log if line[:4] in {"GET ", "POST"}]

    def rotate_keys(self) -> None:
        """What Better Auth does when `jwks.rotationInterval` has passed, without waiting for
        it: its current keys expire, so its next token is signed with a new key (and kid) and
        the old keys stay in the key set for the grace period."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("""UPDATE jwks SET "expiresAt" = now() - interval '1 second'""")

    def sign(self, claims: dict[str, Any]) -> str:
        """A token Better Auth signs with its current key (its server-only signJWT), with
        these claims: how the test gets one that expired already."""
        response = httpx.post(f"{self.url}/test/sign", json=claims)
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token


@pytest.fixture(scope="module")
def better_auth(server_url: str) -> Iterator[BetterAuth]:
    node = node_with_packages()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (
        fresh_database(server_url, prefix="better_auth") as database_url,
        tempfile.TemporaryFile("w+") as log,
    ):
        process = subprocess.Popen(
            [node.node, str(FRONTEND / "better-auth-server.mjs")],
            env={
                "PATH": os.environ["PATH"],
                "DATABASE_URL": database_url,
                "PORT": str(port),
                "BETTER_AUTH_SECRET": secrets.token_urlsafe(32),
                "BETTER_AUTH_URL": url,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            started = BetterAuth(url, database_url, process, log)
            deadline = time.monotonic() + 60
            while "listening" not in (log.seek(0) or log.read()):
                assert process.poll() is None, f"Better Auth exited:\n{log.read()}"
                assert time.monotonic() < deadline, "Better Auth did not start"
                time.sleep(0.1)
            yield started
        finally:
            process.terminate()
            process.wait(timeout=30)


@dataclass
class SignedIn:
    """A Better Auth user signed in: its session cookie is in `session`'s cookie jar."""

    id: str
    email: str
    session: httpx.Client

    def token(self) -> str:
        """The JWT for todo-api, as a frontend gets it: Better Auth's GET /api/auth/token
        (what `authClient.token()` of the jwtClient plugin calls), with the session cookie."""
        response = self.session.get("/api/auth/token")
        assert response.status_code == 200, response.text
        value: str = response.json()["token"]
        return value


@pytest.fixture
def signed_up(better_auth: BetterAuth) -> Iterator[SignedIn]:
    # A browser on the app's page: its origin is sent, as Better Auth's CSRF check wants.
    with httpx.Client(base_url=better_auth.url, headers={"Origin": better_auth.url}) as session:
        email = f"ada.{uuid.uuid4().hex[:8]}@Example.com"
        response = session.post(
            "/api/auth/sign-up/email",
            json={"email": email, "password": PASSWORD, "name": "Ada Lovelace"},
        )
        assert response.status_code == 200, response.text
        user = response.json()["user"]
        # Better Auth's sign-in answers an opaque session token, not a JWT: never send it.
        assert response.json()["token"].count(".") != 2
        yield SignedIn(user["id"], user["email"], session)


def todo_api_env(better_auth: BetterAuth, database_url: str, data_dir: str) -> dict[str, str]:
    """todo-api's side of docs/better-auth.md."""
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "TODO_DATA_DIR": data_dir,
        "AUTH_JWKS_URL": better_auth.jwks_url,
        "AUTH_ISSUER": better_auth.url,
        "AUTH_AUDIENCE": better_auth.url,
    }


@pytest.fixture
def start_todo_api(
    better_auth: BetterAuth,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    serve: Callable[..., Server],
) -> Callable[[], Server]:
    """Starts `todo-api serve` trusting the Better Auth server (stopped after the test)."""
    data = tmp_path_factory.mktemp("data")
    return lambda: serve(todo_api_env(better_auth, database_url, str(data)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_better_auth_token_makes_the_account_on_first_use_and_its_tasks_work(
    better_auth: BetterAuth, signed_up: SignedIn, start_todo_api: Callable[[], Server]
) -> None:
    better_auth.sign({"sub": "warm-up"})  # the first key exists before todo-api starts
    api = start_todo_api()
    token = signed_up.token()
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"]
    assert claims["sub"] == signed_up.id
    assert claims["iss"] == claims["aud"] == better_auth.url
    assert claims["exp"] - claims["iat"] == 15 * 60  # the lifetime docs/better-auth.md gives

    with httpx.Client(base_url=api.base, headers=bearer(token)) as client:
        me = client.get("/api/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == signed_up.id
        assert me.json()["email"] == signed_up.email.lower()
        assert me.json()["name"] == "Ada Lovelace"
        tasks = f"/api/{signed_up.id}/tasks"
        created = client.post(tasks, json={"title": "Buy milk", "tags": ["errands"]})
        assert created.status_code == 201, created.text
        task = created.json()
        done = client.patch(f"{tasks}/{task['id']}/complete")
        assert done.status_code == 200 and done.json()["completed"] is True
        listed = client.get(tasks)
        assert [t["title"] for t in listed.json()] == ["Buy milk"]
        # Another user's tasks stay out of reach of this token.
        assert client.get("/api/someone-else/tasks").status_code == 403
        # Sessions are Better Auth's: todo-api's session routes do not apply to its tokens.
        assert client.post("/api/auth/logout").status_code == 403

    # A later token of the same user (the frontend renewing it) finds the same account.
    with httpx.Client(base_url=api.base, headers=bearer(signed_up.token())) as client:
        again = client.get(f"/api/{signed_up.id}/tasks")
        assert again.status_code == 200 and len(again.json()) == 1


def test_the_set_auth_jwt_header_is_a_token_too_and_signed_out_there_is_no_new_one(
    better_auth: BetterAuth, signed_up: SignedIn, start_todo_api: Callable[[], Server]
) -> None:
    better_auth.sign({"sub": "warm-up"})
    api = start_todo_api()
    session = signed_up.session.get("/api/auth/get-session")
    assert session.status_code == 200, session.text
    assert "set-auth-jwt" in session.headers["access-control-expose-headers"]
    token = session.headers["set-auth-jwt"]
    me = httpx.get(f"{api.base}/api/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == signed_up.id
    # Signed out of Better Auth, the frontend can get no new token.
    assert signed_up.session.post("/api/auth/sign-out", json={}).status_code == 200
    assert signed_up.session.get("/api/auth/token").status_code == 401


def test_an_expired_better_auth_token_is_401_and_makes_nobody(
    better_auth: BetterAuth, start_todo_api: Callable[[], Server], database_url: str
) -> None:
    better_auth.sign({"sub": "warm-up"})
    api = start_todo_api()
    sub = f"ba-{uuid.uuid4().hex[:12]}"
    now = int(time.time())
    expired = better_auth.sign({"sub": sub, "iat": now - 16 * 60, "exp": now - 60})
    response = httpx.get(f"{api.base}/api/auth/me", headers=bearer(expired))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["content-type"] == "application/problem+json"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE id = %s", [sub]).fetchone() == (0,)


def test_a_rotated_key_is_fetched_on_its_first_token_then_not_again_within_a_minute(
    better_auth: BetterAuth, signed_up: SignedIn, start_todo_api: Callable[[], Server]
) -> None:
    old = signed_up.token()  # signed with the current key, before todo-api starts
    fetches = better_auth.requests().count("GET /api/auth/jwks")
    api = start_todo_api()
    with httpx.Client(base_url=api.base) as client:
        assert client.get("/api/auth/me", headers=bearer(old)).status_code == 200
        fetches += 1  # the fetch at start
        assert better_auth.requests().count("GET /api/auth/jwks") == fetches

        better_auth.rotate_keys()
        new = signed_up.token()
        assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
        # An unknown kid: todo-api fetches the key set again, and the new key works at once.
        assert client.get("/api/auth/me", headers=bearer(new)).status_code == 200
        fetches += 1
        assert better_auth.requests().count("GET /api/auth/jwks") == fetches
        # The old key is still in the set (Better Auth's grace period): its tokens still work.
        assert client.get("/api/auth/me", headers=bearer(old)).status_code == 200

        # Another rotation within the minute: the set is not fetched again yet, so the newest
        # key's tokens are 401 until a minute after the last fetch (the contract's limit,
        # which keeps made-up kids from flooding the issuer).
        better_auth.rotate_keys()
        newest = signed_up.token()
        refused = client.get("/api/auth/me", headers=bearer(newest))
        assert refused.status_code == 401
        assert better_auth.requests().count("GET /api/auth/jwks") == fetches
        assert client.get("/api/auth/me", headers=bearer(new)).status_code == 200


def test_the_plugin_setup_docs_better_auth_md_shows_is_the_one_tested() -> None:
    guide = (ROOT / "docs" / "better-auth.md").read_text()
    blocks = re.findall(r"^```js\n(.*?)^```$", guide, re.M | re.S)
    assert blocks
    server = (FRONTEND / "better-auth-server.mjs").read_text()
    for block in blocks:
        assert block in server, block
