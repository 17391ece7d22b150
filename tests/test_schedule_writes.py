"""A schedule change written without reading the task first (todo_api/schedules.py,
`_write_unread`: planned as for a task without a schedule, in the owner's zone last seen) gives
what planning from the task read gives: wherever the task's other schedule fields, or its
owner's zone, are not what that plan assumed, the write does not hold and the task is read and
planned as before."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, create_task

pytestmark = pytest.mark.anyio


async def put(client: httpx.AsyncClient, user: User, task: dict[str, Any], **fields: Any) -> Any:
    r = await client.put(f"{user.tasks}/{task['id']}", json=fields, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_due_time_set_on_a_plain_task_is_in_the_owners_zone(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, title="plain")
    got = await put(client, user, task, due_date="2026-12-21", due_time="10:15")
    assert (got["due_at"], got["version"]) == ("2026-12-21T10:15:00Z", task["version"] + 1)
    got = await put(client, user, got, due_time="11:00", reminders=[{"before": 30}])
    assert got["due_at"] == "2026-12-21T11:00:00Z"
    assert got["reminders"] == [{"before": 30, "fires_at": "2026-12-21T10:30:00Z"}]


async def test_the_fields_not_given_are_kept_as_the_task_has_them(
    client: httpx.AsyncClient, user: User
) -> None:
    await create_task(client, user, due_date="2026-12-08", due_time="09:00")  # zone: UTC, seen
    zoned = await create_task(client, user, due_date="2026-12-08", time_zone="Asia/Tokyo")
    got = await put(client, user, zoned, due_date="2026-12-08", due_time="09:00")
    assert (got["due_date"], got["due_at"]) == ("2026-12-08", "2026-12-08T00:00:00Z")
    reminded = await create_task(
        client, user, due_date="2026-12-08", due_time="09:00", reminders=[{"before": 15}]
    )
    got = await put(client, user, reminded, due_date="2026-12-08", due_time="10:00")
    assert got["reminders"] == [{"before": 15, "fires_at": "2026-12-08T09:45:00Z"}]
    recurring = await create_task(client, user, due_date="2026-12-08", recurrence="FREQ=DAILY")
    r = await client.patch(f"{user.tasks}/{recurring['id']}/complete", headers=user.headers)
    got = await put(client, user, r.json(), due_date="2026-12-09", due_time="07:00")
    assert (got["recurrence"], got["occurrence"], got["due_date"]) == (
        "FREQ=DAILY",
        2,
        "2026-12-09",
    )
    by_completion = await create_task(
        client,
        user,
        due_date="2026-12-08",
        recurrence="FREQ=DAILY",
        recurrence_basis="completion",
    )
    got = await put(
        client, user, by_completion, due_date="2026-12-08", recurrence=None, due_time="08:00"
    )
    assert (got["recurrence"], got["recurrence_basis"]) == (None, "completion")


async def test_a_zone_changed_behind_the_process_is_read_and_used(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    await create_task(client, user, due_date="2026-12-08", due_time="09:00")  # zone: UTC, seen
    await db.execute("UPDATE users SET time_zone = 'Europe/Paris' WHERE id = $1", user.id)
    task = await create_task(client, user, title="plain")
    got = await put(client, user, task, due_date="2026-12-21", due_time="09:00")
    assert got["due_at"] == "2026-12-21T08:00:00Z"


async def test_if_match_still_has_one_winner(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user, title="plain")
    headers = {**user.headers, "If-Match": f'"{task["version"]}"'}
    url = f"{user.tasks}/{task['id']}"
    first = await client.put(url, json={"due_date": "2026-12-21"}, headers=headers)
    second = await client.put(url, json={"due_date": "2026-12-22"}, headers=headers)
    assert first.status_code == 200 and second.status_code == 412
    assert second.headers["etag"] == f'"{first.json()["version"]}"'
