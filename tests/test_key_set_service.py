"""The key set as `todo-api serve --workers 2` fetches it (docs/api.md, "Hardening"), against
a key-set server of the test's own: while it answers 1 byte every 2
seconds the service starts and serves its own tokens at once, an issuer token waits at most
AUTH_JWKS_TIMEOUT_SECONDS and gets 401; once it answers, the set is fetched again every
AUTH_JWKS_REFRESH_SECONDS in every worker, so its keys start working, and a key it drops stops
working everywhere, though no token ever named a new key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import PASSWORD, TEST_SECRET
from tests.keysets import AUDIENCE, ISSUER, STANDARD_SET, KeySetServer, jwk, key_set, token
from todo_api.testing import TODO_API, Server

TIMEOUT = 2  # AUTH_JWKS_TIMEOUT_SECONDS
REFRESH = 2  # AUTH_JWKS_REFRESH_SECONDS
# Requests on fresh connections, so that both workers answer some of them.
FRESH = 12
# How long the test waits for what a refresh brings: many refresh intervals on a busy machine.
SETTLE = 60


@pytest.fixture
def key_server() -> Iterator[KeySetServer]:
    server = KeySetServer(STANDARD_SET)
    server.trickle = 2.0  # 1 byte every 2 s: each read is quick, the whole set takes an hour
    yield server
    server.stop()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def statuses(server: Server, headers: dict[str, str]) -> list[int]:
    """GET /api/auth/me with these headers, each on a connection of its own."""
    got = []
    for _ in range(FRESH):
        with httpx.Client(base_url=server.base, timeout=30) as fresh:
            got.append(fresh.get("/api/auth/me", headers=headers).status_code)
    return got


def settles(server: Server, headers: dict[str, str], status: int) -> None:
    """Wait until every worker answers `status` (FRESH fresh connections in a row do)."""
    deadline = time.monotonic() + SETTLE
    while (seen := statuses(server, headers)) != [status] * FRESH:
        assert time.monotonic() < deadline, f"still {seen}"
        time.sleep(0.5)


@pytest.mark.once  # 15 s of a slow key server: the database only stores the accounts
def test_a_slow_key_set_never_holds_the_service_and_a_dropped_key_stops_in_every_worker(
    database_url: str, serve: Callable[..., Server], key_server: KeySetServer
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "AUTH_JWKS_URL": key_server.url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_TIMEOUT_SECONDS": str(TIMEOUT),
        "AUTH_JWKS_REFRESH_SECONDS": str(REFRESH),
    }
    # serve() returns once /health answers: start-up did not wait for the set.
    server = serve(env, [*TODO_API, "--workers", "2"])
    with httpx.Client(base_url=server.base, timeout=30) as http:
        name = f"k{uuid.uuid4().hex[:12]}"
        body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
        ours = http.post("/api/auth/register", json=body)
        assert ours.status_code == 201
        assert http.get("/health").status_code == 200
    assert statuses(server, bearer(ours.json()["access_token"])) == [200] * FRESH

    # Tokens that wait for the fetch under way (or start one) are refused once the limit is
    # over (the client's own 30-second timeout would fail the test long before the set came).
    subject = f"issuer-{uuid.uuid4().hex[:12]}"
    assert statuses(server, bearer(token("rsa", sub=subject))) == [401] * FRESH

    # The server answers at once now: the next refresh of each worker brings the keys.
    key_server.trickle = None
    rsa_token = bearer(token("rsa", sub=subject))
    settles(server, rsa_token, 200)

    # The issuer drops its RSA key: within a refresh or so, no worker takes it any more.
    key_server.body = key_set(jwk("ed"), jwk("ec"))
    settles(server, rsa_token, 401)
    assert statuses(server, bearer(token("ed", sub=subject))) == [200] * FRESH
