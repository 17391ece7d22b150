"""Versions, ETags and conditional requests: a lost update is detected and refused, a cached copy
is revalidated for free, and of many writers with one If-Match exactly one wins."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.types import ASGIApp

from tests.conftest import User, assert_problem, client_for, create_task
from todo_api.conditional import if_match_versions, list_etag, none_match

pytestmark = pytest.mark.anyio


def url(user: User, task: dict[str, Any], suffix: str = "") -> str:
    return f"{user.tasks}/{task['id']}{suffix}"


async def test_every_single_task_response_carries_its_version_as_a_strong_etag(
    client: httpx.AsyncClient, user: User
) -> None:
    r = await client.post(user.tasks, json={"title": "t"}, headers=user.headers)
    task = r.json()
    assert task["version"] == 1 and r.headers["etag"] == '"1"'
    r = await client.get(url(user, task), headers=user.headers)
    assert r.headers["etag"] == '"1"'
    r = await client.put(url(user, task), json={"title": "u"}, headers=user.headers)
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    r = await client.put(url(user, task), json={"title": "u"}, headers=user.headers)
    assert r.json()["version"] == 2  # nothing changed: the version stays
    r = await client.patch(url(user, task, "/complete"), headers=user.headers)
    assert r.headers["etag"] == '"3"'
    r = await client.post(url(user, task, "/move"), json={"after": None}, headers=user.headers)
    assert r.status_code == 200 and r.headers["etag"] == r.json()["version"].__str__().join('""')


@pytest.mark.parametrize("header", ['"1"', "*", 'W/"1"', '"7", "1"', 'W/"9", "1"'])
async def test_if_none_match_on_the_current_etag_is_a_304_without_a_body(
    client: httpx.AsyncClient, user: User, header: str
) -> None:
    task = await create_task(client, user)
    headers = {**user.headers, "If-None-Match": header}
    r = await client.get(url(user, task), headers=headers)
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == '"1"'


async def test_if_none_match_on_an_old_etag_gets_the_task(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user)
    await client.put(url(user, task), json={"title": "new"}, headers=user.headers)
    r = await client.get(url(user, task), headers={**user.headers, "If-None-Match": '"1"'})
    assert r.status_code == 200 and r.json()["title"] == "new"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "", {"title": "changed"}),
        ("PATCH", "/complete", None),
        ("POST", "/move", {"after": None}),
        ("DELETE", "", None),
    ],
)
async def test_if_match_on_an_old_version_is_a_412_and_changes_nothing(
    client: httpx.AsyncClient,
    user: User,
    db: asyncpg.Connection,
    method: str,
    suffix: str,
    body: Any,
) -> None:
    task = await create_task(client, user)
    await create_task(client, user)  # so that a move to the top would change something
    await client.put(url(user, task), json={"title": "v2"}, headers=user.headers)
    before = await db.fetchrow("SELECT * FROM tasks WHERE id = $1", task["id"])
    for stale in ('"1"', 'W/"2"', '"x"', '"2'):  # old, weak, foreign, malformed
        headers = {**user.headers, "If-Match": stale}
        r = await client.request(method, url(user, task, suffix), json=body, headers=headers)
        assert_problem(r, 412)
        assert r.headers["etag"] == '"2"'
    assert await db.fetchrow("SELECT * FROM tasks WHERE id = $1", task["id"]) == before
    for good in ('"2"', "*", '"1", "2"'):
        fresh = await create_task(client, user)
        await client.put(url(user, fresh), json={"title": "v2"}, headers=user.headers)
        headers = {**user.headers, "If-Match": good}
        r = await client.request(method, url(user, fresh, suffix), json=body, headers=headers)
        assert r.status_code in {200, 204}, r.text


async def test_if_match_on_a_missing_task_is_still_404(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    theirs = await create_task(client, other)
    for target in (f"{user.tasks}/999999999", f"{user.tasks}/{theirs['id']}"):
        r = await client.put(target, json={"title": "x"}, headers={**user.headers, "If-Match": "*"})
        assert_problem(r, 404)
        r = await client.delete(target, headers={**user.headers, "If-Match": '"1"'})
        assert_problem(r, 404)


@pytest.mark.parametrize("runs", range(5))
async def test_of_many_writers_with_one_if_match_exactly_one_wins(
    app: ASGIApp, user: User, db: asyncpg.Connection, runs: int
) -> None:
    async with client_for(app) as client:
        task = await create_task(client, user)
        await create_task(client, user)  # on top now: moving the first there changes it
        headers = {**user.headers, "If-Match": '"1"'}

        async def write(n: int) -> int:
            kind = n % 3
            if kind == 0:
                r = await client.put(url(user, task), json={"title": f"w{n}"}, headers=headers)
            elif kind == 1:
                r = await client.patch(url(user, task, "/complete"), headers=headers)
            else:
                body = {"after": None}
                r = await client.post(url(user, task, "/move"), json=body, headers=headers)
            return r.status_code

        statuses = await asyncio.gather(*(write(n) for n in range(24)))
    # Every one of these writes changes the task (a write that changes nothing would leave
    # the version, and so the ETag, as it was, and a second writer could then match it too).
    assert sorted(statuses).count(200) == 1, statuses
    assert set(statuses) == {200, 412}
    assert await db.fetchval("SELECT version FROM tasks WHERE id = $1", task["id"]) == 2


async def test_a_list_page_has_a_weak_etag_that_follows_what_it_would_send(
    client: httpx.AsyncClient, user: User
) -> None:
    await create_task(client, user)
    await create_task(client, user)
    first = await client.get(user.tasks, headers=user.headers)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = await client.get(user.tasks, headers={**user.headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    paged = await client.get(user.tasks, params={"limit": 1}, headers=user.headers)
    assert paged.headers["etag"] != etag  # another Link, another tag
    task = first.json()[0]
    await client.put(url(user, task), json={"title": "changed"}, headers=user.headers)
    changed = await client.get(user.tasks, headers={**user.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_header_parsing_follows_rfc_9110() -> None:
    assert if_match_versions(None) is None and if_match_versions(" * ") is None
    assert if_match_versions('"3", W/"4", "x", "5"') == [3, 5]
    assert if_match_versions('"3" garbage, "4"') == []  # malformed: matches less, never more
    assert if_match_versions("") == [] and if_match_versions('"99999999999"') == []
    assert none_match('W/"3"', '"3"') and none_match('"1", "3"', '"3"') and none_match("*", '"3"')
    assert not none_match('"4"', '"3"') and not none_match(None, '"3"')
    assert list_etag([b"a", b"bc"]) != list_etag([b"ab", b"c"])
