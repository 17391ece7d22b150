"""The body-reading code (todo_api/payloads.py), fuzzed directly with hypothesis: any bytes,
any content type, any nesting, into every body model. It must end in a value or a 4xx problem
that renders as a problem body: never a 5xx, never another exception (RecursionError,
UnicodeError, ...). No example database is kept, so every run starts from nothing."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.requests import Request

from todo_api.models import LoginBody, RegisterBody, TaskComplete, TaskCreate, TaskUpdate
from todo_api.payloads import MAX_DEPTH, json_object, json_or_form, validated
from todo_api.problems import Problem

EXAMPLES = int(os.environ.get("TODO_FUZZ_BODY_EXAMPLES", "400"))
MODELS: list[type[BaseModel]] = [LoginBody, RegisterBody, TaskCreate, TaskUpdate, TaskComplete]
CLIENT_ERRORS = {400, 413, 415, 422}

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-8",
            b'application/json; charset="UTF-8"',
            b"application/json; charset=latin-1",
            b"APPLICATION/JSON",
            b"application/json;;;",
            b"application/x-www-form-urlencoded",
            b"application/x-www-form-urlencoded; charset=utf-8",
            b"text/plain",
            b"multipart/form-data; boundary=x",
            b"",
        ]
    ),
    st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b),
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=30,
)
FIELDS = ["email", "username", "password", "name", "title", "description", "completed", "x"]


@st.composite
def objects(draw: st.DrawFn) -> bytes:
    """A JSON object with the models' field names and any values: mostly valid JSON."""
    keys = draw(st.lists(st.sampled_from(FIELDS) | st.text(max_size=8), max_size=5))
    value = {key: draw(JSON_VALUES) for key in keys}
    return json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    """Brackets nested around MAX_DEPTH and far past it, in a field or at the top, closed or not."""
    depth = draw(st.one_of(st.integers(0, MAX_DEPTH + 2), st.integers(0, 20_000)))
    opener = draw(st.sampled_from([b"[", b'{"a":', b'[{"b":', b'["\\"[",']))
    closer = {b"[": b"]", b'{"a":': b"}", b'[{"b":': b"}]", b'["\\"[",': b"]"}[opener]
    middle = draw(st.sampled_from([b"1", b"null", b'"x"', b"1" + b"0" * 30, b"", b'"\\u0000"']))
    closed = draw(st.booleans())
    body = opener * depth + middle + (closer * depth if closed else b"")
    if draw(st.booleans()):
        body = b'{"' + draw(st.sampled_from(FIELDS)).encode() + b'": ' + body + b"}"
    return body


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid body with a few bytes changed, inserted or cut."""
    body = bytearray(draw(objects()))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        action = draw(st.sampled_from(["flip", "insert", "cut"]))
        byte = draw(st.integers(0, 255))
        if action == "insert" or not body:
            body[at:at] = bytes([byte])
        elif action == "flip":
            body[min(at, len(body) - 1)] = byte
        else:
            del body[at : at + draw(st.integers(1, 8))]
    return bytes(body)


BODIES = st.one_of(
    st.binary(max_size=300),
    objects(),
    nested(),
    mutated(),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"", b" ", b"null", b"[]", b"42", b'"s"', b"NaN", b"Infinity", b"{}"]),
)


def request_for(body: bytes, content_type: bytes | None) -> Request:
    headers = [(b"content-type", content_type)] if content_type is not None else []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive)


async def read(reader: str, model: type[BaseModel], request: Request) -> None:
    if reader == "json_or_form":
        data = await json_or_form(request)
    else:
        data = await json_object(request, optional=reader == "optional")
    validated(model, data)


def assert_is_a_client_problem(problem: Problem) -> None:
    assert problem.status in CLIENT_ERRORS, problem.status
    body = json.loads(bytes(problem.response().body))
    assert body["status"] == problem.status and isinstance(body["detail"], str)
    assert body["detail"] and body["title"]
    if "errors" in body:
        assert all(isinstance(e["msg"], str) and isinstance(e["loc"], list) for e in body["errors"])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    body=BODIES,
    content_type=st.none() | CONTENT_TYPES,
    model=st.sampled_from(MODELS),
    reader=st.sampled_from(["json", "optional", "json_or_form"]),
)
def test_any_body_is_read_or_refused_with_a_client_problem(
    body: bytes, content_type: bytes | None, model: type[BaseModel], reader: str
) -> None:
    try:
        asyncio.run(read(reader, model, request_for(body, content_type)))
    except Problem as problem:
        assert_is_a_client_problem(problem)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 999, 1000, 1024, 1025, 5000, 60_000])
@pytest.mark.parametrize("model", MODELS)
def test_deep_nesting_is_a_400_for_every_model(depth: int, model: type[BaseModel]) -> None:
    for body in (
        b'{"title": ' + b"[" * depth + b"]" * depth + b"}",
        b'{"a": ' * depth + b"1" + b"}" * depth,
        b"[" * depth + b"1" + b"0" * 30 + b"]" * depth,
    ):
        with pytest.raises(Problem) as refused:
            asyncio.run(read("json", model, request_for(body, b"application/json")))
        assert refused.value.status == 400
        assert_is_a_client_problem(refused.value)
