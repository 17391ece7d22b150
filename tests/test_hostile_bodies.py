"""Bodies built to break the parser rather than the rules: nesting deep enough to exhaust a
recursive walk, on every route that reads a body, with and without a token."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import User, assert_problem, create_task
from todo_api.payloads import MAX_DEPTH

pytestmark = pytest.mark.anyio


def nested(depth: int, field: str = "title") -> bytes:
    """An object whose `field` holds lists nested `depth` levels deep."""
    return b'{"' + field.encode() + b'": ' + b"[" * depth + b"]" * depth + b"}"


def deep_object(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


DEPTHS = [MAX_DEPTH + 1, 1000, 1023, 1100, 5000, 9000]  # 9000 levels: under 64 KiB


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("field", ["email", "password", "username", "unknown"])
async def test_deep_login_body_is_400_without_a_token(
    client: httpx.AsyncClient, depth: int, field: str
) -> None:
    r = await client.post(
        "/api/auth/login",
        content=nested(depth, field),
        headers={"Content-Type": "application/json"},
    )
    assert "nested" in assert_problem(r, 400)["detail"]


@pytest.mark.parametrize("depth", DEPTHS)
async def test_deep_bodies_are_400_on_every_route_that_reads_one(
    client: httpx.AsyncClient, user: User, depth: int
) -> None:
    task = await create_task(client, user)
    item = f"{user.tasks}/{task['id']}"
    for method, path in [
        ("POST", "/api/auth/register"),
        ("POST", user.tasks),
        ("PUT", item),
        ("PATCH", f"{item}/complete"),
    ]:
        for body in (nested(depth), deep_object(depth)):
            r = await client.request(
                method,
                path,
                content=body,
                headers={**user.headers, "Content-Type": "application/json"},
            )
            assert_problem(r, 400)


async def test_nesting_up_to_the_limit_is_read_and_judged_by_the_rules(
    client: httpx.AsyncClient, user: User
) -> None:
    # The object itself is one level: a field may hold MAX_DEPTH - 1 more.
    r = await client.post(
        user.tasks,
        content=nested(MAX_DEPTH - 1),
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert_problem(r, 422)
    r = await client.post(
        user.tasks,
        content=b'{"title": "deep but fine", "x": ' + nested(MAX_DEPTH - 2) + b"}",
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text


async def test_brackets_inside_strings_are_not_nesting(
    client: httpx.AsyncClient, user: User
) -> None:
    title = "[{" * 5000
    r = await client.post(user.tasks, json={"title": title[:200]}, headers=user.headers)
    assert r.status_code == 201, r.text
    r = await client.post(
        user.tasks, json={"title": "ok", "note": title + '\\"' + title}, headers=user.headers
    )
    assert r.status_code == 201, r.text


async def test_deep_body_with_a_huge_integer_is_400_too(
    client: httpx.AsyncClient, user: User
) -> None:
    # orjson refuses integers over 64 bits; the fallback parser must not recurse either.
    body = b'{"title": ' + b"[" * 3000 + b"1" + b"0" * 30 + b"]" * 3000 + b"}"
    r = await client.post(
        user.tasks, content=body, headers={**user.headers, "Content-Type": "application/json"}
    )
    assert_problem(r, 400)
