"""Issue 9's task fields and routes over HTTP: due_date, priority, tags, position and version at
their boundaries, PUT of each, move, clear-completed and the tag counts."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task

pytestmark = pytest.mark.anyio


async def stored_count(db: asyncpg.Connection, user: User) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.id)
    return count


async def test_a_new_task_has_the_defaults(client: httpx.AsyncClient, user: User) -> None:
    task = await create_task(client, user)
    assert task["due_date"] is None and task["priority"] == "none" and task["tags"] == []
    assert task["version"] == 1 and isinstance(task["position"], str) and task["position"]


@pytest.mark.parametrize("due", ["0001-01-01", "9999-12-31", "2028-02-29", "2026-12-01"])
async def test_due_dates_at_the_edges_are_stored_exactly(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, due: str
) -> None:
    task = await create_task(client, user, due_date=due)
    assert task["due_date"] == due
    stored = await db.fetchval("SELECT due_date::text FROM tasks WHERE id = $1", task["id"])
    assert stored == due  # not infinity
    got = await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
    assert got.json()["due_date"] == due


@pytest.mark.parametrize(
    "due",
    [
        "2026-02-29",
        "2026-02-30",
        "2026-13-01",
        "0000-12-31",
        "10000-01-01",
        "2026-12-01T10:00:00Z",
        "2026-12-01 ",
        "20261201",
        "2026-W48-2",
        "tomorrow",
        "",
        20261201,
        True,
        ["2026-12-01"],
    ],
)
async def test_bad_due_dates_are_422(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, due: Any
) -> None:
    r = await client.post(user.tasks, json={"title": "t", "due_date": due}, headers=user.headers)
    assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "due_date"]
    assert await stored_count(db, user) == 0


@pytest.mark.parametrize("priority", ["none", "low", "medium", "high"])
async def test_every_priority(client: httpx.AsyncClient, user: User, priority: str) -> None:
    task = await create_task(client, user, priority=priority)
    assert task["priority"] == priority


@pytest.mark.parametrize("priority", [None, "", "HIGH", "urgent", 3, ["high"]])
async def test_bad_priorities_are_422(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, priority: Any
) -> None:
    r = await client.post(
        user.tasks, json={"title": "t", "priority": priority}, headers=user.headers
    )
    assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "priority"]
    assert await stored_count(db, user) == 0


@pytest.mark.parametrize(
    ("tags", "stored"),
    [
        ([], []),
        ([" Home ", "ERRANDS", "home", "\u00a0errands\t"], ["home", "errands"]),
        ([f"t{n}" for n in range(20)], [f"t{n}" for n in range(20)]),
        ([f"t{n}" for n in range(20)] + ["T0", " t1 "], [f"t{n}" for n in range(20)]),
        (["x" * 40], ["x" * 40]),
        ([" " + "X" * 40 + " "], ["x" * 40]),
        (["to do", "ÄÖ", "\u0130stanbul"], ["to do", "äö", "istanbul"]),
        (["b", "a", "c"], ["b", "a", "c"]),
    ],
)
async def test_tags_are_trimmed_lower_cased_merged_in_order(
    client: httpx.AsyncClient, user: User, tags: list[str], stored: list[str]
) -> None:
    task = await create_task(client, user, tags=tags)
    assert task["tags"] == stored


@pytest.mark.parametrize(
    "tags",
    [
        None,
        "home",
        [f"t{n}" for n in range(21)],
        ["x" * 41],
        [" " + "x" * 41],
        [""],
        ["   "],
        ["a,b"],
        ["a\tb"],
        ["a\x00"],
        ["\x7f"],
        ["a\x85b"],
        [None],
        [1],
    ],
)
async def test_bad_tags_are_422(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection, tags: Any
) -> None:
    r = await client.post(user.tasks, json={"title": "t", "tags": tags}, headers=user.headers)
    assert assert_problem(r, 422)["errors"][0]["loc"][:2] == ["body", "tags"]
    assert await stored_count(db, user) == 0


async def test_put_sets_and_clears_each_new_field_and_version_counts_changes(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, due_date="2026-12-01", tags=["a"], priority="low")
    url = f"{user.tasks}/{task['id']}"

    async def put(body: dict[str, Any]) -> dict[str, Any]:
        r = await client.put(url, json=body, headers=user.headers)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    changed = await put({"tags": ["B", "c"], "priority": "high"})
    assert changed["tags"] == ["b", "c"] and changed["priority"] == "high"
    assert changed["due_date"] == "2026-12-01" and changed["version"] == 2
    assert changed["updated_at"] > task["updated_at"]
    same = await put({"tags": ["b", "C"], "priority": "high", "due_date": "2026-12-01"})
    assert same == changed  # nothing changed: version and updated_at stay
    cleared = await put({"due_date": None, "tags": []})
    assert cleared["due_date"] is None and cleared["tags"] == [] and cleared["version"] == 3
    assert cleared["position"] == task["position"]


@pytest.mark.parametrize(
    "body",
    [
        {"priority": None},
        {"tags": None},
        {"tags": ["x" * 41]},
        {"due_date": "2026-02-29"},
        {"position": "0", "version": 7},
    ],
)
async def test_put_refuses_bad_new_fields_and_changes_nothing(
    client: httpx.AsyncClient, user: User, body: dict[str, Any]
) -> None:
    task = await create_task(client, user, tags=["keep"])
    url = f"{user.tasks}/{task['id']}"
    assert_problem(await client.put(url, json=body, headers=user.headers), 422)
    assert (await client.get(url, headers=user.headers)).json() == task


async def test_read_only_position_and_version_are_ignored(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user, position="0001", version=99)
    assert task["version"] == 1 and task["position"] != "0001"
    r = await client.put(
        f"{user.tasks}/{task['id']}",
        json={"title": "x", "position": "0", "version": 42},
        headers=user.headers,
    )
    assert r.json()["position"] == task["position"] and r.json()["version"] == 2


async def manual_order(client: httpx.AsyncClient, user: User) -> list[int]:
    r = await client.get(f"{user.tasks}?sort=position&limit=500", headers=user.headers)
    assert r.status_code == 200
    tasks = r.json()
    positions = [t["position"] for t in tasks]
    assert positions == sorted(positions)  # code-point order
    assert len(set(positions)) == len(positions)
    return [t["id"] for t in tasks]


async def move(
    client: httpx.AsyncClient, user: User, task_id: int, after: int | None
) -> httpx.Response:
    return await client.post(
        f"{user.tasks}/{task_id}/move", json={"after": after}, headers=user.headers
    )


async def test_new_tasks_go_on_top_and_moves_change_only_the_moved_task(
    client: httpx.AsyncClient, user: User
) -> None:
    a, b, c, d = [(await create_task(client, user, title=t))["id"] for t in "abcd"]
    assert await manual_order(client, user) == [d, c, b, a]
    before = {
        t["id"]: t
        for t in (await client.get(f"{user.tasks}?limit=500", headers=user.headers)).json()
    }
    r = await move(client, user, d, b)
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["version"] == 2 and moved["position"] != before[d]["position"]
    assert await manual_order(client, user) == [c, b, d, a]
    after = {
        t["id"]: t
        for t in (await client.get(f"{user.tasks}?limit=500", headers=user.headers)).json()
    }
    for other in (a, b, c):
        assert after[other] == before[other]
    assert (await move(client, user, a, None)).status_code == 200
    assert await manual_order(client, user) == [a, c, b, d]
    assert (await move(client, user, c, d)).status_code == 200
    assert await manual_order(client, user) == [a, b, d, c]


async def test_a_move_to_where_the_task_already_is_changes_nothing(
    client: httpx.AsyncClient, user: User
) -> None:
    a = await create_task(client, user)
    b = await create_task(client, user)  # on top: b, a
    again = await move(client, user, a["id"], b["id"])
    assert again.json() == a
    top = await move(client, user, b["id"], None)
    assert top.json() == b


async def test_move_after_itself_another_users_task_or_a_missing_one_is_422(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    mine = await create_task(client, user)
    theirs = await create_task(client, other)
    for after in (mine["id"], theirs["id"], 2**63 - 1, 0, -1, 2**63, "1", True, 1.5):
        r = await move(client, user, mine["id"], after)  # type: ignore[arg-type]
        assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "after"], after
    for body in ({}, {"before": None}):
        r = await client.post(f"{user.tasks}/{mine['id']}/move", json=body, headers=user.headers)
        assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "after"]
    got = await client.get(f"{user.tasks}/{mine['id']}", headers=user.headers)
    assert got.json() == mine


async def test_moving_a_missing_or_another_users_task_is_404(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    mine = await create_task(client, user)
    theirs = await create_task(client, other)
    assert_problem(await move(client, user, theirs["id"], None), 404)
    assert_problem(await move(client, user, theirs["id"], mine["id"]), 404)
    assert_problem(await move(client, user, 2**62, mine["id"]), 404)
    r = await client.post(
        f"{other.tasks}/{theirs['id']}/move", json={"after": None}, headers=user.headers
    )
    assert_problem(r, 403)


async def test_clear_completed_deletes_only_the_callers_completed_tasks(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    url = f"{user.tasks}/clear-completed"
    assert (await client.post(url, headers=user.headers)).json() == {"deleted": 0}
    keep = await create_task(client, user)
    for _ in range(3):
        await create_task(client, user, completed=True)
    theirs = await create_task(client, other, completed=True)
    r = await client.post(url, content=b"ignored", headers=user.headers)
    assert r.status_code == 200 and r.json() == {"deleted": 3}
    assert await manual_order(client, user) == [keep["id"]]
    got = await client.get(f"{other.tasks}/{theirs['id']}", headers=other.headers)
    assert got.status_code == 200
    assert_problem(await client.post(f"{other.tasks}/clear-completed", headers=user.headers), 403)
    assert (await client.post(url, headers=user.headers)).json() == {"deleted": 0}


async def test_tags_are_counted_and_sorted_by_name(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    url = f"/api/{user.id}/tags"
    assert (await client.get(url, headers=user.headers)).json() == []
    await create_task(client, user, tags=["work", "Home"])
    await create_task(client, user, tags=["home", "errands"])
    await create_task(client, user)
    await create_task(client, other, tags=["work", "secret"])
    r = await client.get(url, headers=user.headers)
    assert r.status_code == 200
    assert r.json() == [
        {"name": "errands", "count": 1},
        {"name": "home", "count": 2},
        {"name": "work", "count": 1},
    ]
    assert_problem(await client.get(f"/api/{other.id}/tags", headers=user.headers), 403)


async def test_the_literal_routes_are_not_taken_for_task_ids(
    client: httpx.AsyncClient, user: User
) -> None:
    await create_task(client, user, completed=True)
    r = await client.post(f"{user.tasks}/clear-completed", headers=user.headers)
    assert r.json() == {"deleted": 1}
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        r = await client.request(method, f"{user.tasks}/clear-completed", headers=user.headers)
        assert assert_problem(r, 405) and r.headers["allow"] == "POST"
    assert_problem(
        await client.get(f"{user.tasks}/clear-completed/move", headers=user.headers), 404
    )
