"""Bodies built to break the parser: deep nesting, random bytes, every content type. The
body-reading code is fuzzed directly with hypothesis (bytes, content types, nesting), and the
worst cases are sent over HTTP: never a 5xx, never an uncaught exception, always a problem."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.requests import Request

from tests.conftest import User, assert_problem
from todo_api import models
from todo_api.models.common import Body
from todo_api.payloads import MAX_JSON_DEPTH, json_object, json_or_form, validated
from todo_api.problems import Problem


def _body_models() -> list[type[BaseModel]]:
    """Every request body model, in every module of the models package (new domains included)."""
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(models.__path__):
        module = importlib.import_module(f"{models.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Body) and value is not Body:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


BODY_MODELS = _body_models()
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    "application/json;;;",
    'application/json; charset="utf-8"',
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=40,
)


def deep(levels: int, inner: str = "{}") -> bytes:
    """`levels` arrays around `inner`, inside a login-shaped object."""
    return ('{"email": ' + "[" * levels + inner + "]" * levels + ', "password": "x"}').encode()


def request_with(body: bytes, content_type: str) -> Request:
    headers = [(b"content-type", content_type.encode("latin-1"))] if content_type else []
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def read_body(body: bytes, content_type: str) -> None:
    """What a route does with a body: parse it, then validate it with every body model. Only
    Problems with a client status may come out."""

    async def parse() -> None:
        for reader in (json_object, json_or_form):
            try:
                data = await reader(request_with(body, content_type))
            except Problem as problem:
                assert problem.status in {400, 415, 422}, problem.detail
                continue
            for model in BODY_MODELS:
                try:
                    validated(model, data)
                except Problem as problem:
                    assert problem.status == 422, problem.detail

    asyncio.run(parse())


# No example database: each run stands alone, like the schemathesis run (tests/test_fuzz.py).
FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(CONTENT_TYPES))
def test_random_bytes_are_refused_as_problems(body: bytes, content_type: str) -> None:
    read_body(body, content_type)


@FUZZ
@given(JSON_VALUES, st.sampled_from(CONTENT_TYPES))
def test_any_json_value_is_read_or_refused_as_a_problem(value: Any, content_type: str) -> None:
    try:
        body = orjson.dumps(value)
    except orjson.JSONEncodeError:  # NaN and friends: send them as Python's json writes them
        body = repr(value).encode()
    read_body(body, content_type)


@FUZZ
@given(
    st.integers(min_value=0, max_value=3000),
    st.sampled_from(["{}", "[]", '"\\u0000"', '{"a": "\\u0000"}', "1", '"\\"]]]"']),
    st.sampled_from(["[", '{"k": ', '{"\\u0000": ']),
)
def test_any_nesting_is_read_or_refused_as_a_problem(levels: int, inner: str, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = ('{"title": ' + opener * levels + inner + closer * levels + "}").encode()
    read_body(body, "application/json")
    read_body(body[: len(body) // 2], "application/json")  # and cut off halfway


@pytest.mark.anyio
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH - 1, 500, 1000, 5000])
async def test_deeply_nested_bodies_are_client_errors_on_every_route(
    client: httpx.AsyncClient, user: User, levels: int
) -> None:
    body = deep(levels)
    routes = [
        ("POST", "/api/auth/login", {}),
        ("POST", "/api/auth/register", {}),
        ("POST", user.tasks, user.headers),
    ]
    for method, path, headers in routes:
        r = await client.request(
            method, path, content=body, headers={**headers, "content-type": "application/json"}
        )
        problem = assert_problem(r, r.status_code)
        assert r.status_code in {400, 422}, problem
        if levels + 2 > MAX_JSON_DEPTH:
            assert r.status_code == 400 and "deep" in problem["detail"]
