"""The flows people expect from a todo app's accounts, over HTTP against `todo-api serve` with
two workers: register as frontends do, stay logged in by refreshing, log out everywhere, change
the password, delete the account. Every revocation holds on the very next request, whichever
worker answers it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from tests.conftest import TEST_SECRET
from todo_api.testing import Server

# Enough fresh connections that both workers answer some of them.
TRIES = 12


def refused_everywhere(base: str, access_token: str, path: str = "/api/auth/me") -> bool:
    """Each try on a new connection (so on either worker): all 401."""
    statuses = []
    for _ in range(TRIES):
        with httpx.Client(base_url=base) as fresh:
            r = fresh.get(path, headers={"Authorization": f"Bearer {access_token}"})
            statuses.append(r.status_code)
    return statuses == [401] * TRIES


def test_the_account_lifecycle_over_http_on_two_workers(
    database_url: str, serve: Callable[..., Server]
) -> None:
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "WEB_CONCURRENCY": "2"}
    server = serve(env)
    base = server.base
    email = f"flow{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base) as http:
        # Register as a Next.js frontend does: email and password only.
        r = http.post("/api/auth/register", json={"email": email, "password": "first password"})
        assert r.status_code == 201, r.text
        laptop = r.json()
        user_id = laptop["user"]["id"]
        assert laptop["user"]["username"] == email.split("@")[0]
        tasks = f"/api/{user_id}/tasks"
        auth = {"Authorization": f"Bearer {laptop['access_token']}"}
        assert http.post(tasks, json={"title": "milk"}, headers=auth).status_code == 201

        # Stay logged in: refresh twice; the old access token of the session still works until
        # it expires, the spent refresh token never again.
        first = http.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
        second = http.post(
            "/api/auth/refresh", json={"refresh_token": first.json()["refresh_token"]}
        )
        assert first.status_code == second.status_code == 200
        laptop = second.json()

        # A second device, then log out everywhere from the laptop.
        phone = http.post(
            "/api/auth/login", json={"email": email.upper(), "password": "first password"}
        ).json()
        r = http.delete(
            "/api/auth/sessions", headers={"Authorization": f"Bearer {laptop['access_token']}"}
        )
        assert r.status_code == 204
        assert refused_everywhere(base, laptop["access_token"])
        assert refused_everywhere(base, phone["access_token"], tasks)
        refreshed = http.post("/api/auth/refresh", json={"refresh_token": phone["refresh_token"]})
        assert refreshed.status_code == 401

        # Log in again, change the password: the other session ends, a new one starts.
        tablet = http.post(
            "/api/auth/login", json={"email": email, "password": "first password"}
        ).json()
        other = http.post(
            "/api/auth/login", json={"email": email, "password": "first password"}
        ).json()
        changed = http.put(
            "/api/auth/password",
            json={"current_password": "first password", "new_password": "second password"},
            headers={"Authorization": f"Bearer {tablet['access_token']}"},
        )
        assert changed.status_code == 200, changed.text
        assert refused_everywhere(base, other["access_token"])
        assert refused_everywhere(base, tablet["access_token"])
        now = changed.json()
        listed = http.get(tasks, headers={"Authorization": f"Bearer {now['access_token']}"})
        assert [t["title"] for t in listed.json()] == ["milk"]

        # Delete the account: everything goes, the email is free again.
        r = http.request(
            "DELETE",
            "/api/auth/me",
            json={"password": "second password"},
            headers={"Authorization": f"Bearer {now['access_token']}"},
        )
        assert r.status_code == 204
        assert refused_everywhere(base, now["access_token"])
        again = http.post("/api/auth/register", json={"email": email, "password": "third password"})
        assert again.status_code == 201
        assert again.json()["user"]["id"] != user_id
