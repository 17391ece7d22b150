"""The document describes the service exactly: valid OpenAPI 3.1, every route and no other,
every contract status, and the docs page with its assets served locally."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from tests.test_lists import LIST_KEYS
from todo_api.app import routes
from todo_api.settings import Settings

pytestmark = pytest.mark.anyio

CONTRACT = {
    ("/api/auth/register", "post"): "201 400 409 413 415 422 429 503",
    ("/api/auth/login", "post"): "200 400 401 403 413 415 422 429 503",
    ("/api/auth/me", "get"): "200 401 403 503",
    ("/api/auth/me", "patch"): "200 400 401 403 409 413 415 422 429 503",
    ("/api/auth/me", "delete"): "204 400 401 403 413 415 422 429 503",
    ("/api/auth/password", "put"): "200 400 401 403 413 415 422 429 503",
    ("/api/auth/refresh", "post"): "200 400 401 403 413 415 422 503",
    ("/api/auth/logout", "post"): "204 401 403 503",
    ("/api/auth/sessions", "get"): "200 401 403 503",
    ("/api/auth/sessions", "delete"): "204 401 403 503",
    ("/api/auth/sessions/{session_id}", "delete"): "204 401 403 404 503",
    ("/api/{user_id}/tasks", "post"): "201 400 401 403 409 413 415 422 503",
    ("/api/{user_id}/tasks", "get"): "200 304 401 403 422 503",
    ("/api/{user_id}/tasks/{task_id}", "get"): "200 304 401 403 404 503",
    ("/api/{user_id}/tasks/{task_id}", "put"): "200 400 401 403 404 412 413 415 422 503",
    ("/api/{user_id}/tasks/{task_id}", "delete"): "204 401 403 404 412 503",
    ("/api/{user_id}/tasks/{task_id}/complete", "patch"): (
        "200 400 401 403 404 409 412 413 415 422 503"
    ),
    ("/api/{user_id}/tasks/{task_id}/move", "post"): "200 400 401 403 404 412 413 415 422 503",
    ("/api/{user_id}/tasks/changes", "get"): "200 401 403 410 422 503",
    ("/api/{user_id}/tasks/clear-completed", "post"): "200 401 403 503",
    ("/api/{user_id}/tags", "get"): "200 401 403 503",
    ("/api/{user_id}/lists", "get"): "200 304 401 403 503",
    ("/api/{user_id}/lists", "post"): "201 400 401 403 409 413 415 422 503",
    ("/api/{user_id}/lists/{list_id}", "get"): "200 304 401 403 404 503",
    ("/api/{user_id}/lists/{list_id}", "patch"): "200 400 401 403 404 409 412 413 415 422 503",
    ("/api/{user_id}/lists/{list_id}", "delete"): "204 401 403 404 409 412 503",
    ("/api/{user_id}/lists/{list_id}/move", "post"): "200 400 401 403 404 412 413 415 422 503",
    ("/api/{user_id}/tasks/{task_id}/occurrences", "get"): "200 401 403 404 422 503",
    ("/api/{user_id}/reminders", "get"): "200 401 403 422 503",
    ("/health", "get"): "200",
    ("/ready", "get"): "200 503",
    ("/metrics", "get"): "200",
}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


async def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_the_document_and_the_router_agree(
    document: dict[str, Any], settings: Settings
) -> None:
    routed = set()
    for route in routes(settings):
        if isinstance(route, Mount):
            continue  # the docs page's static assets: files, not operations
        if route.path == "/mcp":
            continue  # MCP's JSON-RPC: the document's description tells of it (and /docs)
        assert isinstance(route, Route)
        methods = {m.lower() for m in route.methods or ()} - {"head"}
        if not methods:  # an HTTPEndpoint class: its handler methods
            methods = {
                m for m in ("get", "post", "put", "patch", "delete") if hasattr(route.endpoint, m)
            }
        routed |= {(route.path_format, m) for m in methods}
    documented = {(path, m) for path, ops in document["paths"].items() for m in ops}
    assert documented == routed


async def test_every_contract_route_and_status_is_documented(document: dict[str, Any]) -> None:
    for (path, method), statuses in CONTRACT.items():
        operation = document["paths"][path][method]
        assert set(operation["responses"]) == set(statuses.split()), (path, method)


async def test_account_shapes_are_documented(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    login = schemas["LoginOut"]
    assert {"refresh_token", "refresh_expires_in"} <= set(login["required"])
    user = schemas["UserOut"]["properties"]
    assert {"name", "email"} <= set(user)
    register = schemas["RegisterBody"]
    assert set(register["required"]) == {"email", "password"}
    update = schemas["MeUpdate"]
    fields = ("username", "name", "email", "time_zone")
    assert update["anyOf"] == [{"required": [n]} for n in fields]
    assert "null" not in str(update["properties"]["time_zone"])
    assert "null" not in str(update["properties"]["username"])
    assert "null" not in str(update["properties"]["email"])
    session = schemas["SessionOut"]["properties"]
    assert set(session) == {"id", "created_at", "last_used_at", "user_agent", "current"}
    refresh = document["paths"]["/api/auth/refresh"]["post"]
    assert refresh.get("security") == []  # no bearer token needed


async def test_errors_are_problems_and_422_lists_errors(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                assert response["headers"]["X-Request-ID"]["required"] is True
                if int(status) >= 400:
                    ref = response["content"]["application/problem+json"]["schema"]["$ref"]
                    name = ref.rsplit("/", 1)[1]
                    assert {"type", "title", "status", "detail"} <= set(schemas[name]["required"])
                    if status == "422":
                        assert "errors" in schemas[name]["required"], (path, method)
                if status == "401":
                    assert response["headers"]["WWW-Authenticate"]["required"] is True


async def test_list_parameters_and_headers(document: dict[str, Any]) -> None:
    op = document["paths"]["/api/{user_id}/tasks"]["get"]
    assert {p["name"] for p in op["parameters"]} == {
        "user_id",
        "status",
        "sort",
        "order",
        "q",
        "tag",
        "priority",
        "due_before",
        "due_after",
        "overdue",
        "tz",
        "limit",
        "cursor",
        "list",
    }
    by_name = {p["name"]: p["schema"] for p in op["parameters"]}
    assert by_name["sort"]["enum"] == ["created", "updated", "title", "due", "priority", "position"]
    assert by_name["tag"]["type"] == "array" and "pattern" in by_name["tag"]["items"]
    assert by_name["priority"]["items"]["enum"] == ["none", "low", "medium", "high"]
    assert by_name["due_before"]["format"] == "date"
    assert by_name["overdue"]["type"] == "boolean"
    assert "Asia/Tokyo" in by_name["tz"]["enum"] and "default" not in by_name["tz"]  # the user's
    assert by_name["list"]["type"] == "integer" and by_name["list"]["minimum"] == 1
    headers = op["responses"]["200"]["headers"]
    assert {"Link", "X-Total-Count", "X-Request-ID"} <= set(headers)
    created = document["paths"]["/api/{user_id}/tasks"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]
    assert set(created["links"]) == {
        "getTask",
        "updateTask",
        "completeTask",
        "moveTask",
        "deleteTask",
    }


async def test_task_fields_are_documented_with_their_rules(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    task = schemas["TaskOut"]["properties"]
    assert {"due_date", "priority", "tags", "position", "version"} <= set(task)
    create = schemas["TaskCreate"]["properties"]
    assert create["tags"]["maxItems"] == 20 and "pattern" in create["tags"]["items"]
    assert create["priority"]["enum"] == ["none", "low", "medium", "high"]
    assert create["due_date"]["anyOf"][0]["format"] == "date"
    update = schemas["TaskUpdate"]
    assert {"required": ["tags"]} in update["anyOf"]
    assert update["properties"]["tags"]["type"] == "array"  # null refused
    assert update["properties"]["priority"]["type"] == "string"
    move = schemas["TaskMove"]
    assert move["required"] == ["after"]
    assert {"after", "list_id"} == set(move["properties"])
    assert task["list_id"]["type"] == "integer"
    assert create["list_id"]["anyOf"][0]["minimum"] == 1
    assert update["properties"]["list_id"]["type"] == "integer"  # null refused
    assert {"required": ["list_id"]} in update["anyOf"]


async def test_list_shapes_are_documented(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    shown = schemas["ListOut"]
    assert set(shown["required"]) == LIST_KEYS
    for body in ("ListCreate", "ListRename"):
        name = schemas[body]["properties"]["name"]
        assert schemas[body]["required"] == ["name"] and "pattern" in name
    assert schemas["ListMove"]["required"] == ["after"]
    listed = document["paths"]["/api/{user_id}/lists"]
    assert "ETag" in listed["get"]["responses"]["200"]["headers"]
    created = listed["post"]["responses"]["201"]
    assert {"Location", "ETag"} <= set(created["headers"])
    assert set(created["links"]) == {"getList", "renameList", "moveList", "deleteList"}
    item = document["paths"]["/api/{user_id}/lists/{list_id}"]["get"]
    assert {p["name"] for p in item["parameters"]} == {"user_id", "list_id"}


async def test_security_schemes_include_the_oauth2_password_flow(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["oauth2"]["flows"]["password"]["tokenUrl"] == "/api/auth/login"
    login = document["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in login
    assert document["paths"]["/api/auth/me"]["get"]["security"] == [
        {"bearerAuth": []},
        {"oauth2": []},
    ]


async def test_the_docs_page_and_its_assets_are_served_here(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "oauth2-redirect.html"):
        r = await client.get(f"/docs/assets/{asset}")
        assert r.status_code == 200, asset
        assert len(r.content) > 100


@pytest.mark.parametrize(
    "password",
    [
        "é" * 4,  # 4 characters, 8 bytes
        "\U0001f600\U0001f600",  # 2 characters, 8 bytes: the fewest a valid password can have
        "password",
        "x" * 72,
        "é" * 36,  # 36 characters, 72 bytes
    ],
)
async def test_every_password_the_service_accepts_fits_the_document(
    client: httpx.AsyncClient, document: dict[str, Any], password: str
) -> None:
    """The rule counts bytes, JSON Schema counts characters: the document's character bounds
    must hold for every accepted password (the byte rule itself is in the description and the
    `password` format), or a client checking against the document refuses good passwords."""
    import uuid

    from jsonschema import Draft202012Validator

    schema = document["components"]["schemas"]["RegisterBody"]["properties"]["password"]
    assert Draft202012Validator(schema).is_valid(password), schema
    name = f"p{uuid.uuid4().hex[:12]}"
    body = {"email": f"{name}@example.com", "username": name, "password": password}
    assert (await client.post("/api/auth/register", json=body)).status_code == 201


def _free_strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The string schemas in a parameter's schema that take any text (no enum, no format)."""
    found = [s for s in schema.get("anyOf", []) if isinstance(s, dict)]
    found += [schema.get("items", {}), schema]
    return [s for s in found if s.get("type") == "string" and not {"enum", "format"} & set(s)]


async def test_every_free_text_query_parameter_says_nul_is_refused(
    document: dict[str, Any],
) -> None:
    # The service answers 422 to a NUL anywhere in a query string (payloads.py); a parameter
    # whose schema allows one makes schemathesis' valid requests fail (a ticket with a NUL did).
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for parameter in op.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for schema in _free_strings(parameter["schema"]):
                    pattern = schema.get("pattern")
                    where = f"{method.upper()} {path} ?{parameter['name']}"
                    assert pattern is not None, where
                    assert re.search(pattern, "a\x00b") is None, where
