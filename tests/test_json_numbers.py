"""A JSON number outside the range a field takes (`1e400`, a 401-digit integer) is valid JSON:
422 at that field, or ignored in an unknown field, never 400 (docs/api.md, "Hardening")."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio

HUGE = {
    "1e400": "1e400",
    "-1e400": "-1e400",
    "401 digits": "9" * 401,
    "negative 401 digits": "-" + "9" * 401,
    "5000 digits": "7" * 5000,
    "2**64": str(2**64),
}
JSON = {"Content-Type": "application/json"}


def raw(template: str, number: str) -> bytes:
    return template.replace("NUMBER", number).encode()


@pytest.mark.parametrize("number", HUGE.values(), ids=HUGE.keys())
async def test_in_a_field_it_is_422_at_that_field(
    client: httpx.AsyncClient, user: User, number: str
) -> None:
    task = await create_task(client, user)
    cases = [
        ("POST", user.tasks, '{"title": NUMBER}', ["body", "title"]),
        ("POST", user.tasks, '{"title": "t", "priority": NUMBER}', ["body", "priority"]),
        ("POST", f"{user.tasks}/{task['id']}/move", '{"after": NUMBER}', ["body", "after"]),
        ("PATCH", f"{user.tasks}/{task['id']}/complete", '{"completed": NUMBER}', None),
        ("POST", "/api/auth/login", '{"username": "someone", "password": NUMBER}', None),
    ]
    for method, path, template, loc in cases:
        r = await client.request(
            method, path, content=raw(template, number), headers={**user.headers, **JSON}
        )
        body = assert_problem(r, 422)
        if loc is not None:
            assert body["errors"][0]["loc"] == loc, body


@pytest.mark.parametrize("number", HUGE.values(), ids=HUGE.keys())
async def test_in_an_unknown_field_it_is_ignored(
    client: httpx.AsyncClient, user: User, number: str
) -> None:
    r = await client.post(
        user.tasks,
        content=raw('{"title": "kept", "extra": NUMBER, "more": [NUMBER, {"x": NUMBER}]}', number),
        headers={**user.headers, **JSON},
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "kept"


async def test_bodies_that_are_not_json_are_still_400(
    client: httpx.AsyncClient, user: User
) -> None:
    for bad in (b'{"title": NaN}', b'{"title": Infinity}', b'{"title": "\\ud800"}', b"{"):
        r = await client.post(user.tasks, content=bad, headers={**user.headers, **JSON})
        assert_problem(r, 400)
