"""Bad bodies and query strings: each rule at its boundary, and nothing stored when refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio


async def task_count(db: asyncpg.Connection, user: User) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.id)
    return count


@pytest.mark.parametrize(
    ("title", "status"),
    [
        ("x" * 199, 201),
        ("x" * 200, 201),
        ("x" * 201, 422),
        ("é" * 200, 201),  # characters, not bytes
        ("  " + "x" * 200 + "  ", 201),  # trimmed first
        ("", 422),
        ("   ", 422),
        ("\t\n", 422),
        ("\u00a0\u2003", 422),  # Unicode spaces are spaces too
    ],
)
async def test_title_length_after_trimming(
    client: httpx.AsyncClient, user: User, title: str, status: int
) -> None:
    r = await client.post(user.tasks, json={"title": title}, headers=user.headers)
    assert r.status_code == status, r.text
    if status == 201:
        assert r.json()["title"] == title.strip()
    else:
        assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "title"]


@pytest.mark.parametrize(("length", "status"), [(999, 201), (1000, 201), (1001, 422)])
async def test_description_length(
    client: httpx.AsyncClient, user: User, length: int, status: int
) -> None:
    body = {"title": "t", "description": "d" * length}
    r = await client.post(user.tasks, json=body, headers=user.headers)
    assert r.status_code == status


async def test_description_is_stored_as_given(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, description="  spaced  ")
    assert task["description"] == "  spaced  "


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"description": "no title"},
        {"title": None},
        {"title": 42},
        {"title": ["x"]},
        {"title": "x", "completed": "true"},
        {"title": "x", "completed": 1},
        {"title": "x", "completed": None},
        {"title": "x", "description": 5},
        {"title": "nul\x00"},
        {"title": "x", "description": "nul\x00"},
    ],
)
async def test_create_refuses_bad_bodies_and_stores_nothing(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, body: dict[str, Any]
) -> None:
    r = await client.post(user.tasks, json=body, headers=user.headers)
    problem = assert_problem(r, 422)
    assert problem["errors"], problem
    for error in problem["errors"]:
        assert set(error) == {"loc", "msg", "type"}
        assert error["loc"][0] == "body"
    assert await task_count(db, user) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"title": "x",}',
        b"not json",
        b"{'title': 'x'}",
        b'{"title": NaN}',
        b"\xff\xfe",
        b'{"title": "\\ud800"}',
        b"",
    ],
)
async def test_broken_json_is_400(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, raw: bytes
) -> None:
    headers = {**user.headers, "Content-Type": "application/json"}
    r = await client.post(user.tasks, content=raw, headers=headers)
    assert_problem(r, 400)
    assert await task_count(db, user) == 0


@pytest.mark.parametrize("raw", [b"[]", b"42", b"null", b'"title"', b"true", b'[{"title": "x"}]'])
async def test_json_that_is_not_an_object_is_400(
    client: httpx.AsyncClient, user: User, raw: bytes
) -> None:
    headers = {**user.headers, "Content-Type": "application/json"}
    assert_problem(await client.post(user.tasks, content=raw, headers=headers), 400)
    task = await create_task(client, user)
    assert_problem(
        await client.put(f"{user.tasks}/{task['id']}", content=raw, headers=headers), 400
    )
    url = f"{user.tasks}/{task['id']}/complete"
    assert_problem(await client.patch(url, content=raw, headers=headers), 400)
    assert_problem(await client.post("/api/auth/register", content=raw, headers=headers), 400)
    assert_problem(await client.post("/api/auth/login", content=raw, headers=headers), 400)


async def test_unknown_fields_are_ignored_nul_and_all(
    client: httpx.AsyncClient, user: User
) -> None:
    body = {"title": "x", "extra": "nul\x00", "nul\x00key": 1}
    r = await client.post(user.tasks, json=body, headers=user.headers)
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (rb'{"title": "x", "tags": ["a", "b\u0000"]}', ["body", "tags", 1]),
        (rb'{"title": "x", "reminders": [{"at": "\u0000"}]}', ["body", "reminders", 0, "at"]),
        # beside an integer orjson cannot write: looked for without its help
        (rb'{"title": "x\u0000", "completed": 123456789012345678901234567890}', ["body", "title"]),
    ],
)
async def test_a_nul_is_refused_wherever_it_lies(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, raw: bytes, loc: list[Any]
) -> None:
    headers = {**user.headers, "Content-Type": "application/json"}
    problem = assert_problem(await client.post(user.tasks, content=raw, headers=headers), 422)
    assert problem["errors"] == [
        {"loc": loc, "msg": "NUL characters are not allowed", "type": "nul_character"}
    ]
    assert await task_count(db, user) == 0


async def test_the_six_characters_backslash_u0000_are_not_a_nul(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = {**user.headers, "Content-Type": "application/json"}
    raw = rb'{"title": "a \\u0000 b"}'
    r = await client.post(user.tasks, content=raw, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "a \\u0000 b"


async def test_huge_integer_is_a_type_error_not_a_crash(
    client: httpx.AsyncClient, user: User
) -> None:
    headers = {**user.headers, "Content-Type": "application/json"}
    raw = b'{"title": "x", "completed": 123456789012345678901234567890}'
    assert_problem(await client.post(user.tasks, content=raw, headers=headers), 422)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
async def test_non_json_content_type_is_415(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, content_type: str | None
) -> None:
    headers = dict(user.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = await client.post(user.tasks, content=b'{"title": "x"}', headers=headers)
    assert_problem(r, 415)
    assert await task_count(db, user) == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"],
)
async def test_json_content_type_with_or_without_charset(
    client: httpx.AsyncClient, user: User, content_type: str
) -> None:
    headers = {**user.headers, "Content-Type": content_type}
    r = await client.post(user.tasks, content=b'{"title": "x"}', headers=headers)
    assert r.status_code == 201


async def test_register_as_form_is_415(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/register", data={"email": "a@b.com", "username": "abc", "password": "x" * 8}
    )
    assert_problem(r, 415)


def padded_body(size: int) -> bytes:
    """A valid task body of exactly `size` bytes."""
    head, tail = b'{"title": "x", "pad": "', b'"}'
    return head + b"p" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize(("size", "status"), [(65_536, 201), (65_537, 413), (1_000_000, 413)])
async def test_body_size_limit(
    client: httpx.AsyncClient, user: User, size: int, status: int
) -> None:
    headers = {**user.headers, "Content-Type": "application/json"}
    r = await client.post(user.tasks, content=padded_body(size), headers=headers)
    assert r.status_code == status
    if status == 413:
        assert_problem(r, 413)


@pytest.mark.parametrize(("size", "status"), [(65_536, 201), (65_537, 413)])
async def test_chunked_body_size_limit(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, size: int, status: int
) -> None:
    body = padded_body(size)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    headers = {**user.headers, "Content-Type": "application/json"}
    r = await client.post(user.tasks, content=chunks(), headers=headers)
    assert "content-length" not in r.request.headers
    assert r.status_code == status
    if status == 413:
        assert_problem(r, 413)
        assert await task_count(db, user) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id": 5, "user_id": "x", "created_at": "2000-01-01T00:00:00Z", "completed_at": None},
        {"colour": "red"},
        {"title": None},
        {"completed": None},
        {"title": ""},
        {"title": "x" * 201},
        {"description": "d" * 1001},
        {"completed": "yes"},
    ],
)
async def test_put_refuses_bad_bodies_and_changes_nothing(
    client: httpx.AsyncClient, user: User, body: dict[str, Any]
) -> None:
    task = await create_task(client, user, description="d")
    url = f"{user.tasks}/{task['id']}"
    assert_problem(await client.put(url, json=body, headers=user.headers), 422)
    assert (await client.get(url, headers=user.headers)).json() == task


@pytest.mark.parametrize("body", [{"completed": None}, {"completed": "true"}, {"completed": 0}])
async def test_patch_refuses_bad_completed(
    client: httpx.AsyncClient, user: User, body: dict[str, Any]
) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}"
    assert_problem(await client.patch(f"{url}/complete", json=body, headers=user.headers), 422)
    assert (await client.get(url, headers=user.headers)).json() == task


async def test_patch_with_a_non_json_body_is_415(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user)
    url = f"{user.tasks}/{task['id']}/complete"
    headers = {**user.headers, "Content-Type": "text/plain"}
    assert_problem(await client.patch(url, content=b"completed", headers=headers), 415)


@pytest.mark.parametrize(
    "query",
    [
        "status=done",
        "sort=due_date",
        "sort=priority&order=up",
        "order=up",
        "tag=a,b",
        "tag=" + "x" * 41,
        "tag=%20",
        "tag=a%01",
        "priority=urgent",
        "priority=",
        "due_before=2026-02-29",
        "due_after=tomorrow",
        "due_after=2026-12-01T00:00:00Z",
        "overdue=yes",
        "overdue=1",
        "tz=Mars/Olympus",
        "tz=utc",
        "tz=../etc/passwd",
        "tz=",
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=ten",
        "limit=1.5",
        "cursor=garbage",
        "q=" + "x" * 201,
        "q=%00",
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, user: User, query: str
) -> None:
    body = assert_problem(await client.get(f"{user.tasks}?{query}", headers=user.headers), 422)
    name = query.split("&")[-1].split("=")[0]
    assert body["errors"][0]["loc"][:2] == ["query", name]


@pytest.mark.parametrize(
    "query",
    [
        "limit=1",
        "limit=500",
        "status=pending",
        "sort=title&order=desc",
        "sort=due&order=desc",
        "sort=priority",
        "sort=position&order=desc",
        "tag=%20A%20&tag=b&priority=high&priority=none",
        "due_before=9999-12-31&due_after=0001-01-01",
        "overdue=true&tz=Pacific/Kiritimati",
        "overdue=false&tz=UTC",
        "tag=" + "x" * 40,
    ],
)
async def test_good_list_parameters(client: httpx.AsyncClient, user: User, query: str) -> None:
    r = await client.get(f"{user.tasks}?{query}", headers=user.headers)
    assert r.status_code == 200
    assert r.json() == []
    assert r.headers["x-total-count"] == "0"
