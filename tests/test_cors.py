"""CORS for the browser frontend: preflights, exposed headers, refused origins."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import User, assert_problem

pytestmark = pytest.mark.anyio

FRONTEND = "http://localhost:3000"


def preflight(
    origin: str, method: str = "PUT", headers: str = "authorization,content-type"
) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_preflight_from_the_frontend_is_allowed(
    client: httpx.AsyncClient, method: str
) -> None:
    r = await client.options("/api/u/tasks/1", headers=preflight(FRONTEND, method))
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == FRONTEND
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-request-id"} <= allowed
    assert "*" not in r.headers["access-control-allow-headers"]
    assert r.headers["x-request-id"]


async def test_preflight_from_another_origin_is_a_400_problem(client: httpx.AsyncClient) -> None:
    r = await client.options("/api/u/tasks", headers=preflight("http://evil.example"))
    assert_problem(r, 400)
    assert "access-control-allow-origin" not in r.headers


async def test_preflight_asking_for_an_unlisted_header_is_refused(
    client: httpx.AsyncClient,
) -> None:
    r = await client.options("/api/u/tasks", headers=preflight(FRONTEND, "GET", "x-custom"))
    assert_problem(r, 400)


async def test_actual_request_exposes_paging_and_id_headers(
    client: httpx.AsyncClient, user: User
) -> None:
    r = await client.get(user.tasks, headers={**user.headers, "Origin": FRONTEND})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == FRONTEND
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"link", "x-total-count", "x-request-id", "location"} <= exposed


async def test_errors_carry_cors_headers_for_the_frontend(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/u/tasks", headers={"Origin": FRONTEND})
    assert_problem(r, 401)
    assert r.headers["access-control-allow-origin"] == FRONTEND


async def test_other_origins_never_get_allow_origin(client: httpx.AsyncClient, user: User) -> None:
    r = await client.get(user.tasks, headers={**user.headers, "Origin": "http://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


async def test_cors_origins_come_from_settings(settings: object) -> None:

    from tests.conftest import client_for, running
    from todo_api.app import create_app

    custom = settings.model_copy(update={"cors_origins": ("https://app.example",)})
    async with running(create_app(custom)) as app, client_for(app) as client:
        ok = await client.options("/api/u/tasks", headers=preflight("https://app.example", "GET"))
        assert ok.status_code == 200
        refused = await client.options("/api/u/tasks", headers=preflight(FRONTEND, "GET"))
        assert_problem(refused, 400)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/u/lists", "GET"),
        ("/api/u/lists", "POST"),
        ("/api/u/lists/7", "PATCH"),
        ("/api/u/lists/7", "DELETE"),
        ("/api/u/lists/7/move", "POST"),
    ],
)
async def test_the_list_routes_follow_the_platform_rules(
    client: httpx.AsyncClient, user: User, path: str, method: str
) -> None:
    r = await client.options(path, headers=preflight(FRONTEND, method, "authorization,if-match"))
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == FRONTEND
    refused = await client.options(path, headers=preflight("http://evil.example", method))
    assert_problem(refused, 400)
    listed = await client.get(f"/api/{user.id}/lists", headers={**user.headers, "Origin": FRONTEND})
    assert listed.headers["access-control-allow-origin"] == FRONTEND
    exposed = {
        h.strip().lower() for h in listed.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "location", "x-request-id"} <= exposed


async def test_round_three_headers_are_allowed_and_the_mcp_session_is_exposed(
    client: httpx.AsyncClient, user: User
) -> None:
    """The CORS rule for the new routes: Last-Event-ID (a reconnecting EventSource) and MCP's
    Mcp-Protocol-Version and Mcp-Session-Id may be sent; Mcp-Session-Id may be read."""
    asked = "authorization,last-event-id,mcp-protocol-version,mcp-session-id"
    r = await client.options(f"/api/{user.id}/lists", headers=preflight(FRONTEND, "GET", asked))
    assert r.status_code == 200, r.text
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"last-event-id", "mcp-protocol-version", "mcp-session-id"} <= allowed
    listed = await client.get(f"/api/{user.id}/lists", headers={**user.headers, "Origin": FRONTEND})
    exposed = {
        h.strip().lower() for h in listed.headers["access-control-expose-headers"].split(",")
    }
    assert "mcp-session-id" in exposed
