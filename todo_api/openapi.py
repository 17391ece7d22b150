"""The OpenAPI 3.1 document, generated from the route table and the pydantic models. Each
route function declares what it takes and answers with `@operation(...)`; `openapi_document`
walks the routes and turns those declarations and the models' JSON Schemas into the document,
so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from todo_api import __version__
from todo_api.dispatch import handlers_of
from todo_api.models.common import ProblemOut, ValidationProblemOut

F = TypeVar("F", bound=Callable[..., Any])

OPENAPI_VERSION: Final = "3.1.0"
REF: Final = "#/components/schemas/{model}"
METHODS: Final = ("get", "post", "put", "patch", "delete")

HEADERS: Final[dict[str, dict[str, Any]]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's when it sent a well-formed one.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
    },
    "Location": {"description": "Where the created resource is.", "schema": {"type": "string"}},
    "Link": {
        "description": 'The next page, as `<url>; rel="next"`; absent on the last page.',
        "schema": {"type": "string"},
    },
    "X-Total-Count": {
        "description": "Rows matching the filters, across all pages.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-Total-Count-Exact": {
        "description": "`false` when the count stopped at 10,000 (a list filtered by `q`, "
        "`due_before`, `due_after` or `overdue` that more tasks match; X-Total-Count is then "
        "10000); absent when X-Total-Count is exact.",
        "schema": {"type": "string", "enum": ["false"]},
    },
    "WWW-Authenticate": {
        "description": '`Bearer`, with `error="invalid_token"` when a token was sent.',
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
    "Idempotent-Replayed": {
        "description": "`true` on a response replayed for a repeated Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "ETag": {
        "description": "A task's version as a strong ETag (`\"3\"`); a list page's weak one.",
        "schema": {"type": "string"},
    },
}

# Response headers sent only sometimes (the last page has no Link; an exact count no
# X-Total-Count-Exact): documented, never required.
SOMETIMES: Final = frozenset({"Link", "X-Total-Count-Exact"})

# Optional request headers an operation may read, described in its text.
REQUEST_HEADERS: Final[dict[str, dict[str, Any]]] = {
    "If-Match": {
        "description": 'Only if the task\'s ETag is one of these (`"3"`, a list, or `*`); '
        "else 412.",
        "schema": {"type": "string", "maxLength": 1024},
    },
    "If-None-Match": {
        "description": "304 with no body when the current ETag is one of these (or `*`).",
        "schema": {"type": "string", "maxLength": 1024},
    },
    "Idempotency-Key": {
        "description": "Retry safely: the first success is replayed for 24 hours to the same "
        "request with this key (Idempotent-Replayed: true).",
        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    },
    "Last-Event-ID": {
        "description": "Resume after this event id (a sync token), as a reconnecting "
        "EventSource sends it; used instead of `since`.",
        "schema": {"type": "string", "maxLength": 1024},
    },
}

# What each error status means here, and the headers that come with it.
ERRORS: Final[dict[int, tuple[str, tuple[str, ...]]]] = {
    400: ("The body is not valid JSON, or not a JSON object.", ()),
    401: (
        "Missing, malformed, expired or badly signed token; or wrong credentials.",
        ("WWW-Authenticate",),
    ),
    403: (
        "The path's user is not the token's user; the account is inactive; the password given "
        "is wrong; the route needs a session and the token (a trusted issuer's) has none; or "
        "a personal access token may not make this request (its scope, or /api/auth/).",
        (),
    ),
    404: (
        "No such task (or list, session, webhook or personal access token) of this user's: "
        "another user's is not found either.",
        (),
    ),
    409: (
        "The email or username (or the list's name) is already taken; the default list cannot "
        "be deleted; or a request with this Idempotency-Key is still running.",
        (),
    ),
    410: ("The sync token is older than the change history kept: sync from the start.", ()),
    412: ("If-Match named no current ETag of the task (or list); nothing changed.", ("ETag",)),
    413: ("The body is larger than 65,536 bytes.", ()),
    415: ("The body is not JSON.", ()),
    422: ("The JSON object or the query string breaks a rule; `errors` lists each.", ()),
    429: (
        "Too many failed logins for this account, the server is busy hashing passwords, or "
        "the user holds EVENTS_MAX_STREAMS event streams already.",
        ("Retry-After",),
    ),
    503: ("The database is unavailable.", ("Retry-After",)),
}


DESCRIPTION: Final = """Users register, log in with a JWT, and manage their own tasks. Every error
is an RFC 9457 `application/problem+json` body.

**Scripts and agents** use a *personal access token* (`POST /api/auth/tokens`, shown once): send
it as `Authorization: Bearer tdo_...`. A `read` token only reads.

**AI agents: MCP at `/mcp`.** `POST /mcp` speaks the Model Context Protocol's Streamable HTTP
transport (stateless, JSON answers) with nine tools: `find_tasks`, `get_task`, `list_tags`,
`get_overview` (read-only), `add_tasks`, `update_task`, `complete_tasks`, `move_task`,
`delete_tasks`. Any MCP client connects with the URL and a bearer header, for example the
OpenAI Agents SDK:

```python
MCPServerStreamableHttp({"url": "https://<this host>/mcp",
                         "headers": {"Authorization": "Bearer tdo_..."}})
```

A desktop client starts the same tools over stdio with `todo-api mcp` (environment
`DATABASE_URL` and `TODO_API_TOKEN`). Tools act as the token's user only; a failed call answers
a tool result with `isError` naming the field or id."""


@dataclass(frozen=True)
class Reply:
    """A success response."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    many: bool = False
    headers: tuple[str, ...] = ()
    links: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None  # for a body no model describes


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    form: type[BaseModel] | None = None  # also accepted as application/x-www-form-urlencoded
    query: type[BaseModel] | None = None
    secured: bool = True
    request_headers: tuple[str, ...] = ()  # optional headers it reads (REQUEST_HEADERS)


def operation(**declared: Any) -> Callable[[F], F]:
    """Attach what a route function takes and answers, for the document."""

    def attach(fn: F) -> F:
        fn.__openapi__ = Operation(**declared)  # type: ignore[attr-defined]
        return fn

    return attach


def _operations(route: Route) -> dict[str, Operation]:
    """The documented operations of one route, by lower-case method."""
    endpoint = route.endpoint
    handlers: dict[str, Any] = dict(handlers_of(endpoint))
    if not handlers:
        handlers = {m.lower(): endpoint for m in route.methods or () if m != "HEAD"}
    found = {}
    for method, handler in handlers.items():
        declared = getattr(handler, "__openapi__", None)
        if declared is not None:
            found[method] = declared
    return found


class _Schemas:
    """Collects model schemas into components, with references between them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        if model.__name__ not in self.components:
            schema = _drop_impossible_defaults(
                model.model_json_schema(ref_template=REF, mode="serialization")
            )
            for name, definition in schema.pop("$defs", {}).items():
                self.components.setdefault(name, definition)
            self.components[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}


def _drop_impossible_defaults(node: Any) -> Any:
    """pydantic writes `"default": null` for optional fields even where the schema (rightly)
    does not admit null, since null is refused when sent: drop those defaults."""
    if isinstance(node, list):
        return [_drop_impossible_defaults(item) for item in node]
    if not isinstance(node, dict):
        return node
    cleaned = {key: _drop_impossible_defaults(value) for key, value in node.items()}
    if cleaned.get("default", ...) is None and cleaned.get("type") not in (None, "null"):
        del cleaned["default"]
    return cleaned


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch pydantic writes."""
    if schema.get("default", ...) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**branches[0], **rest}
    return schema


# Every path parameter: its description and schema (listed in this order where a path has it).
_ID: Final[dict[str, Any]] = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
_OPAQUE: Final[dict[str, Any]] = {"type": "string", "minLength": 1}
PATH_PARAMETERS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "user_id": ("The token's user id (an opaque string).", _OPAQUE),
    "task_id": ("A task id; anything but a positive 64-bit integer is 404.", _ID),
    "list_id": ("A list id; anything but a positive 64-bit integer is 404.", _ID),
    "session_id": ("A session's id, as GET /api/auth/sessions lists it.", _OPAQUE),
    "webhook_id": ("A webhook id; anything but a positive 64-bit integer is 404.", _ID),
    "token_id": ("A personal access token's id, as GET /api/auth/tokens lists it.", _ID),
}


def _parameters(path: str, query: type[BaseModel] | None) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "description": text, "schema": dict(schema)}
        for name, (text, schema) in PATH_PARAMETERS.items()
        if f"{{{name}}}" in path
    ]
    if query is not None:
        schema = query.model_json_schema()
        for name, prop in schema["properties"].items():
            prop = _without_null(prop)
            prop.pop("title", None)
            params.append({"name": name, "in": "query", "required": False, "schema": prop})
    return params


def _headers(names: Sequence[str], required: Sequence[str] = ()) -> dict[str, Any]:
    headers = {"X-Request-ID": {**HEADERS["X-Request-ID"], "required": True}}
    for name in names:
        headers[name] = {**HEADERS[name], "required": name in required}
    return headers


def _responses(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for reply in op.replies:
        response: dict[str, Any] = {
            "description": reply.description,
            "headers": _headers(
                reply.headers, required=[h for h in reply.headers if h not in SOMETIMES]
            ),
        }
        if reply.model is not None:
            schema = schemas.ref(reply.model)
            if reply.many:
                schema = {"type": "array", "items": schema}
            response["content"] = {reply.media_type: {"schema": schema}}
        elif reply.schema is not None:
            response["content"] = {reply.media_type: {"schema": dict(reply.schema)}}
        if reply.links:
            response["links"] = dict(reply.links)
        responses[str(reply.status)] = response
    for status in op.errors:
        description, headers = ERRORS[status]
        model = ValidationProblemOut if status == 422 else ProblemOut
        responses[str(status)] = {
            "description": description,
            "headers": _headers(headers, required=headers),
            "content": {"application/problem+json": {"schema": schemas.ref(model)}},
        }
    return responses


def _operation(path: str, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": _responses(op, schemas),
    }
    parameters = _parameters(path, op.query)
    if op.request_headers:
        # In words, not as parameters: no schema can say which values a request's outcome
        # depends on (the task's version now, the key's first body), so a generator fed
        # them would call every 412 or 422 a defect.
        document["description"] = "Optional request headers: " + "; ".join(
            f"`{name}`: {REQUEST_HEADERS[name]['description']}" for name in op.request_headers
        )
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        content = {"application/json": {"schema": schemas.ref(op.body)}}
        if op.form is not None:
            content["application/x-www-form-urlencoded"] = {"schema": schemas.ref(op.form)}
        document["requestBody"] = {"required": op.body_required, "content": content}
    document["security"] = [{"bearerAuth": []}, {"oauth2": []}] if op.secured else []
    return document


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for route in routes:
        if isinstance(route, Route):
            for method, op in _operations(route).items():
                path = route.path_format  # the template without convertors
                paths.setdefault(path, {})[method] = _operation(path, op, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "todo-api",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "oauth2": {
                    "type": "oauth2",
                    "flows": {"password": {"tokenUrl": "/api/auth/login", "scopes": {}}},
                },
            },
        },
    }
