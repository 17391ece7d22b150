"""Lists (docs/api.md, "Lists") over HTTP: the default Inbox of every account, create, read,
rename, delete (with its tasks, each leaving a tombstone), reorder, the weak ETag of GET /lists,
name rules and the limit; tasks in lists (list_id on create, PUT and move; ?list= on the
listing); manual order per list; the counts."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import User, assert_problem, create_task, register

pytestmark = pytest.mark.anyio

LIST_KEYS = {
    "id",
    "name",
    "is_default",
    "position",
    "version",
    "task_count",
    "pending_count",
    "created_at",
    "updated_at",
}


def lists_url(user: User) -> str:
    return f"/api/{user.id}/lists"


async def all_lists(client: httpx.AsyncClient, user: User) -> list[dict[str, Any]]:
    r = await client.get(lists_url(user), headers=user.headers)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def inbox(client: httpx.AsyncClient, user: User) -> dict[str, Any]:
    return next(lst for lst in await all_lists(client, user) if lst["is_default"])


async def create_list(client: httpx.AsyncClient, user: User, name: str) -> dict[str, Any]:
    r = await client.post(lists_url(user), json={"name": name}, headers=user.headers)
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


async def get_list(client: httpx.AsyncClient, user: User, list_id: int) -> dict[str, Any]:
    r = await client.get(f"{lists_url(user)}/{list_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def in_list(
    client: httpx.AsyncClient, user: User, list_id: int, query: str = "sort=position"
) -> list[dict[str, Any]]:
    r = await client.get(f"{user.tasks}?list={list_id}&limit=500&{query}", headers=user.headers)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def test_every_account_starts_with_its_inbox(client: httpx.AsyncClient, user: User) -> None:
    lists = await all_lists(client, user)
    assert len(lists) == 1
    (box,) = lists
    assert set(box) == LIST_KEYS
    assert box["name"] == "Inbox" and box["is_default"] is True and box["version"] == 1
    assert box["task_count"] == 0 and box["pending_count"] == 0
    task = await create_task(client, user)
    assert task["list_id"] == box["id"]


async def test_create_get_and_the_order_of_lists(client: httpx.AsyncClient, user: User) -> None:
    r = await client.post(lists_url(user), json={"name": "  Groceries\t"}, headers=user.headers)
    assert r.status_code == 201, r.text
    groceries = r.json()
    assert set(groceries) == LIST_KEYS
    assert groceries["name"] == "Groceries" and groceries["is_default"] is False
    assert groceries["version"] == 1 and groceries["task_count"] == 0
    assert r.headers["location"] == f"{lists_url(user)}/{groceries['id']}"
    assert r.headers["etag"] == '"1"'
    work = await create_list(client, user, "Work")
    # A new list goes to the bottom.
    assert [lst["name"] for lst in await all_lists(client, user)] == ["Inbox", "Groceries", "Work"]
    got = await client.get(r.headers["location"], headers=user.headers)
    assert got.json() == groceries and got.headers["etag"] == '"1"'
    cached = await client.get(
        r.headers["location"], headers={**user.headers, "If-None-Match": '"1"'}
    )
    assert cached.status_code == 304 and cached.headers["etag"] == '"1"'
    assert (await get_list(client, user, work["id"]))["name"] == "Work"


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", str(2**63), "99999999999"])
async def test_a_list_id_that_is_no_list_is_404(
    client: httpx.AsyncClient, user: User, raw: str
) -> None:
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"{lists_url(user)}/{raw}", headers=user.headers)
        assert_problem(r, 404)
    r = await client.patch(f"{lists_url(user)}/{raw}", json={"name": "x"}, headers=user.headers)
    assert_problem(r, 404)
    r = await client.post(
        f"{lists_url(user)}/{raw}/move", json={"after": None}, headers=user.headers
    )
    assert_problem(r, 404)


async def test_names_are_unique_per_user_case_insensitively(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    work = await create_list(client, user, "Work")
    taken = await client.post(lists_url(user), json={"name": " WORK "}, headers=user.headers)
    assert "work" in assert_problem(taken, 409)["detail"].lower()
    inbox_taken = await client.post(lists_url(user), json={"name": "inbox"}, headers=user.headers)
    assert_problem(inbox_taken, 409)
    # Another user's names never meet ours.
    await create_list(client, other, "Work")
    # A list never conflicts with itself: renaming to another case of its name works.
    r = await client.patch(
        f"{lists_url(user)}/{work['id']}", json={"name": "work"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "work" and r.json()["version"] == 2
    groceries = await create_list(client, user, "Groceries")
    r = await client.patch(
        f"{lists_url(user)}/{groceries['id']}", json={"name": "WORK"}, headers=user.headers
    )
    assert_problem(r, 409)
    assert (await get_list(client, user, groceries["id"]))["name"] == "Groceries"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"name": ""},
        {"name": " \t\n"},
        {"name": "x" * 101},
        {"name": "a\x01b"},
        {"name": "a\x7fb"},
        {"name": "a\u0085b\u009f"},
        {"name": "a\x00b"},
        {"name": 7},
        {"name": ["a"]},
    ],
)
async def test_bad_names_are_422_and_change_nothing(
    client: httpx.AsyncClient, user: User, body: dict[str, Any]
) -> None:
    r = await client.post(lists_url(user), json=body, headers=user.headers)
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"][:2] == ["body", "name"]
    box = await inbox(client, user)
    r = await client.patch(f"{lists_url(user)}/{box['id']}", json=body, headers=user.headers)
    assert_problem(r, 422)
    assert await all_lists(client, user) == [box]


async def test_names_of_100_characters_after_trimming_are_kept(
    client: httpx.AsyncClient, user: User
) -> None:
    name = "é" * 100
    made = await create_list(client, user, f"\u3000{name} ")
    assert made["name"] == name


async def test_rename_with_if_match_and_versions(client: httpx.AsyncClient, user: User) -> None:
    work = await create_list(client, user, "Work")
    url = f"{lists_url(user)}/{work['id']}"
    stale = await client.patch(
        url, json={"name": "Job"}, headers={**user.headers, "If-Match": '"7"'}
    )
    assert assert_problem(stale, 412) and stale.headers["etag"] == '"1"'
    assert (await get_list(client, user, work["id"]))["name"] == "Work"
    r = await client.patch(url, json={"name": "Job"}, headers={**user.headers, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    # The same name again changes nothing.
    same = await client.patch(url, json={"name": "Job"}, headers=user.headers)
    assert same.json()["version"] == 2 and same.json()["updated_at"] == r.json()["updated_at"]
    # Its tasks and counts changing do not change its version.
    await create_task(client, user, list_id=work["id"])
    after = await get_list(client, user, work["id"])
    assert after["version"] == 2 and after["task_count"] == 1


async def test_get_lists_has_a_weak_etag_that_changes_with_anything_in_the_body(
    client: httpx.AsyncClient, user: User
) -> None:
    first = await client.get(lists_url(user), headers=user.headers)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    cached = await client.get(lists_url(user), headers={**user.headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["etag"] == etag and cached.content == b""
    seen = {etag}
    task = await create_task(client, user)  # a count changes
    box = await inbox(client, user)
    changes = [
        lambda: client.patch(f"{user.tasks}/{task['id']}/complete", headers=user.headers),
        lambda: client.post(lists_url(user), json={"name": "Work"}, headers=user.headers),
        lambda: client.patch(
            f"{lists_url(user)}/{box['id']}", json={"name": "In"}, headers=user.headers
        ),
        lambda: client.post(
            f"{lists_url(user)}/{box['id']}/move",
            json={"after": next(lst["id"] for lst in lists if not lst["is_default"])},
            headers=user.headers,
        ),
    ]
    for change in changes:
        lists = await all_lists(client, user)
        r = await change()
        assert r.status_code in (200, 201), r.text
        now = await client.get(lists_url(user), headers={**user.headers, "If-None-Match": etag})
        assert now.status_code == 200
        etag = now.headers["etag"]
        assert etag not in seen
        seen.add(etag)


async def test_deleting_a_list_deletes_its_tasks_each_leaving_a_tombstone(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    work = await create_list(client, user, "Work")
    kept = await create_task(client, user, title="in the inbox")
    doomed = [
        (await create_task(client, user, title=f"w{n}", list_id=work["id"], tags=["x"]))["id"]
        for n in range(5)
    ]
    feed = await client.get(f"{user.tasks}/changes", headers=user.headers)
    since = feed.json()["next"]
    r = await client.delete(f"{lists_url(user)}/{work['id']}", headers=user.headers)
    assert r.status_code == 204 and r.content == b""
    assert_problem(await client.get(f"{lists_url(user)}/{work['id']}", headers=user.headers), 404)
    for task_id in doomed:
        assert_problem(await client.get(f"{user.tasks}/{task_id}", headers=user.headers), 404)
    listed = await client.get(user.tasks, headers=user.headers)
    assert [t["id"] for t in listed.json()] == [kept["id"]]
    changes = await client.get(
        f"{user.tasks}/changes", params={"since": since}, headers=user.headers
    )
    tombstones = [c for c in changes.json()["changes"] if c.get("deleted")]
    assert sorted(c["id"] for c in tombstones) == sorted(doomed)
    assert all(set(c) == {"id", "deleted", "deleted_at"} for c in tombstones)
    # The counts follow: the tag is gone, and no count row of the list is left.
    tags = await client.get(f"/api/{user.id}/tags", headers=user.headers)
    assert tags.json() == []
    assert await db.fetchval("SELECT count(*) FROM task_counts WHERE list_id = $1", work["id"]) == 0
    assert [lst["name"] for lst in await all_lists(client, user)] == ["Inbox"]


async def test_the_default_list_is_never_deleted_and_deletes_honour_if_match(
    client: httpx.AsyncClient, user: User
) -> None:
    box = await inbox(client, user)
    r = await client.delete(f"{lists_url(user)}/{box['id']}", headers=user.headers)
    assert_problem(r, 409)
    r = await client.delete(
        f"{lists_url(user)}/{box['id']}", headers={**user.headers, "If-Match": "*"}
    )
    assert_problem(r, 409)
    # Renamed, it is still the default list.
    await client.patch(
        f"{lists_url(user)}/{box['id']}", json={"name": "Misc"}, headers=user.headers
    )
    assert_problem(await client.delete(f"{lists_url(user)}/{box['id']}", headers=user.headers), 409)
    work = await create_list(client, user, "Work")
    url = f"{lists_url(user)}/{work['id']}"
    stale = await client.delete(url, headers={**user.headers, "If-Match": '"2"'})
    assert_problem(stale, 412)
    assert stale.headers["etag"] == '"1"'
    assert (
        await client.delete(url, headers={**user.headers, "If-Match": '"1"'})
    ).status_code == 204
    assert_problem(await client.delete(url, headers=user.headers), 404)
    assert [lst["name"] for lst in await all_lists(client, user)] == ["Misc"]


async def test_moving_lists(client: httpx.AsyncClient, user: User) -> None:
    box = await inbox(client, user)
    a, b, c = [await create_list(client, user, name) for name in "ABC"]

    async def move(moved: dict[str, Any], after: Any) -> httpx.Response:
        url = f"{lists_url(user)}/{moved['id']}/move"
        return await client.post(url, json={"after": after}, headers=user.headers)

    r = await move(c, None)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    assert [lst["id"] for lst in await all_lists(client, user)] == [
        c["id"],
        box["id"],
        a["id"],
        b["id"],
    ]
    r = await move(box, b["id"])
    assert [lst["id"] for lst in await all_lists(client, user)] == [
        c["id"],
        a["id"],
        b["id"],
        box["id"],
    ]
    before = r.json()
    # Where it already is: nothing changes.
    again = await move(box, b["id"])
    assert again.json() == before
    for after in (box["id"], 987654321):
        problem = assert_problem(await move(box, after), 422)
        assert problem["errors"][0]["loc"] == ["body", "after"]
    missing = await client.post(f"{lists_url(user)}/{a['id']}/move", json={}, headers=user.headers)
    assert assert_problem(missing, 422)["errors"][0]["loc"] == ["body", "after"]
    stale = await client.post(
        f"{lists_url(user)}/{a['id']}/move",
        json={"after": None},
        headers={**user.headers, "If-Match": '"5"'},
    )
    assert_problem(stale, 412)
    assert [lst["id"] for lst in await all_lists(client, user)] == [
        c["id"],
        a["id"],
        b["id"],
        box["id"],
    ]


async def test_a_user_has_at_most_200_lists_even_when_creating_at_once(
    client: httpx.AsyncClient, user: User
) -> None:
    for n in range(189):  # and the Inbox: 190
        await create_list(client, user, f"list {n}")
    responses = await asyncio.gather(
        *(
            client.post(lists_url(user), json={"name": f"more {n}"}, headers=user.headers)
            for n in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [422] * 10, [r.text for r in responses]
    for r in responses:
        if r.status_code == 422:
            assert_problem(r, 422)
    lists = await all_lists(client, user)
    assert len(lists) == 200
    positions = [lst["position"] for lst in lists]
    assert positions == sorted(positions) and len(set(positions)) == 200
    # Deleting one makes room for one.
    await client.delete(f"{lists_url(user)}/{lists[-1]['id']}", headers=user.headers)
    await create_list(client, user, "room again")
    assert_problem(
        await client.post(lists_url(user), json={"name": "one more"}, headers=user.headers), 422
    )


async def test_tasks_are_created_in_a_list_on_its_top(
    client: httpx.AsyncClient, user: User
) -> None:
    box = await inbox(client, user)
    work = await create_list(client, user, "Work")
    first = await create_task(client, user, title="w1", list_id=work["id"])
    second = await create_task(client, user, title="w2", list_id=work["id"])
    plain = await create_task(client, user, title="i1")
    nulled = await create_task(client, user, title="i2", list_id=None)
    assert first["list_id"] == second["list_id"] == work["id"]
    assert plain["list_id"] == nulled["list_id"] == box["id"]
    assert [t["id"] for t in await in_list(client, user, work["id"])] == [second["id"], first["id"]]
    assert [t["id"] for t in await in_list(client, user, box["id"])] == [nulled["id"], plain["id"]]


@pytest.mark.parametrize("value", [0, -3, 2**63, "7", 1.5, True])
async def test_a_list_id_of_the_wrong_shape_is_422(
    client: httpx.AsyncClient, user: User, value: Any
) -> None:
    r = await client.post(user.tasks, json={"title": "t", "list_id": value}, headers=user.headers)
    assert assert_problem(r, 422)["errors"][0]["loc"][:2] == ["body", "list_id"]


async def test_a_list_that_is_not_the_users_is_422_on_create_put_and_move(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    theirs = await create_list(client, other, "Theirs")
    task = await create_task(client, user)
    before = await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
    for list_id in (theirs["id"], (await inbox(client, other))["id"], 987654321):
        attempts = [
            client.post(user.tasks, json={"title": "t", "list_id": list_id}, headers=user.headers),
            client.post(
                user.tasks,
                json={"title": "t", "list_id": list_id},
                headers={**user.headers, "Idempotency-Key": f"k{list_id}"},
            ),
            client.put(
                f"{user.tasks}/{task['id']}", json={"list_id": list_id}, headers=user.headers
            ),
            client.post(
                f"{user.tasks}/{task['id']}/move",
                json={"after": None, "list_id": list_id},
                headers=user.headers,
            ),
        ]
        for attempt in attempts:
            problem = assert_problem(await attempt, 422)
            assert problem["errors"][0]["loc"] == ["body", "list_id"]
    after = await client.get(f"{user.tasks}/{task['id']}", headers=user.headers)
    assert after.json() == before.json()
    listed = await client.get(user.tasks, headers=user.headers)
    assert [t["id"] for t in listed.json()] == [task["id"]]
    assert (await get_list(client, other, theirs["id"]))["task_count"] == 0


async def test_put_moves_a_task_to_the_top_of_another_list(
    client: httpx.AsyncClient, user: User
) -> None:
    box = await inbox(client, user)
    work = await create_list(client, user, "Work")
    w = [await create_task(client, user, title=f"w{n}", list_id=work["id"]) for n in range(3)]
    task = await create_task(client, user, title="moving")
    url = f"{user.tasks}/{task['id']}"
    assert_problem(await client.put(url, json={"list_id": None}, headers=user.headers), 422)
    # The same list: nothing changes.
    same = await client.put(url, json={"list_id": box["id"]}, headers=user.headers)
    assert same.json() == task
    r = await client.put(url, json={"list_id": work["id"], "title": "moved"}, headers=user.headers)
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["list_id"] == work["id"] and moved["version"] == task["version"] + 1
    order = [t["id"] for t in await in_list(client, user, work["id"])]
    assert order == [task["id"], w[2]["id"], w[1]["id"], w[0]["id"]]
    assert await in_list(client, user, box["id"]) == []
    counts = {lst["name"]: lst["task_count"] for lst in await all_lists(client, user)}
    assert counts == {"Inbox": 0, "Work": 4}


async def test_a_move_into_an_empty_list_changes_the_version_even_at_the_same_position(
    client: httpx.AsyncClient, user: User
) -> None:
    task = await create_task(client, user)  # the only task of the Inbox: position "V"
    empty = await create_list(client, user, "Empty")
    r = await client.put(
        f"{user.tasks}/{task['id']}", json={"list_id": empty["id"]}, headers=user.headers
    )
    assert r.json()["position"] == task["position"]
    assert (
        r.json()["version"] == task["version"] + 1
        and r.headers["etag"] == f'"{task["version"] + 1}"'
    )


async def test_move_within_a_list_and_into_another(client: httpx.AsyncClient, user: User) -> None:
    box = await inbox(client, user)
    work = await create_list(client, user, "Work")
    i = [(await create_task(client, user, title=f"i{n}"))["id"] for n in range(3)][::-1]
    w = [
        (await create_task(client, user, title=f"w{n}", list_id=work["id"]))["id"] for n in range(3)
    ][::-1]

    async def move(task: int, body: dict[str, Any]) -> httpx.Response:
        return await client.post(f"{user.tasks}/{task}/move", json=body, headers=user.headers)

    # Without list_id, `after` must be a task of the same list.
    problem = assert_problem(await move(i[0], {"after": w[0]}), 422)
    assert problem["errors"][0]["loc"] == ["body", "after"]
    r = await move(i[0], {"after": i[2]})
    assert r.status_code == 200 and r.json()["list_id"] == box["id"]
    assert [t["id"] for t in await in_list(client, user, box["id"])] == [i[1], i[2], i[0]]
    # With list_id: into that list, after one of its tasks, or to its top.
    problem = assert_problem(await move(i[0], {"after": i[1], "list_id": work["id"]}), 422)
    assert problem["errors"][0]["loc"] == ["body", "after"]
    r = await move(i[0], {"after": w[1], "list_id": work["id"]})
    assert r.status_code == 200 and r.json()["list_id"] == work["id"]
    assert [t["id"] for t in await in_list(client, user, work["id"])] == [w[0], w[1], i[0], w[2]]
    r = await move(i[1], {"after": None, "list_id": work["id"]})
    assert [t["id"] for t in await in_list(client, user, work["id"])] == [
        i[1],
        w[0],
        w[1],
        i[0],
        w[2],
    ]
    assert [t["id"] for t in await in_list(client, user, box["id"])] == [i[2]]
    # Its own list named: an ordinary move.
    r = await move(w[2], {"after": None, "list_id": work["id"]})
    assert [t["id"] for t in await in_list(client, user, work["id"])] == [
        w[2],
        i[1],
        w[0],
        w[1],
        i[0],
    ]
    # list_id null is the task's own list.
    r = await move(w[0], {"after": None, "list_id": None})
    assert r.json()["list_id"] == work["id"]
    counts = {
        lst["name"]: (lst["task_count"], lst["pending_count"])
        for lst in await all_lists(client, user)
    }
    assert counts == {"Inbox": (1, 1), "Work": (5, 5)}


async def test_positions_are_unique_within_a_list_and_may_repeat_across_lists(
    client: httpx.AsyncClient, user: User, db: asyncpg.Connection
) -> None:
    work = await create_list(client, user, "Work")
    a = await create_task(client, user)
    b = await create_task(client, user, list_id=work["id"])
    assert a["position"] == b["position"]  # each the first of its list
    # Across lists, sort=position is total: position, then id.
    r = await client.get(f"{user.tasks}?sort=position", headers=user.headers)
    assert [t["id"] for t in r.json()] == [a["id"], b["id"]]
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO tasks (user_id, title, list_id, position) VALUES ($1, 'x', $2, $3)",
            user.id,
            work["id"],
            b["position"],
        )


async def test_the_list_filter_combines_with_every_parameter_and_pages(
    client: httpx.AsyncClient, user: User
) -> None:
    work = await create_list(client, user, "Work")
    box = await inbox(client, user)
    for n in range(30):
        fields: dict[str, Any] = {
            "title": f"task {n} {'milk' if n % 2 else 'bread'}",
            "tags": ["home"] if n % 3 == 0 else [],
            "priority": ["none", "low", "medium", "high"][n % 4],
            "due_date": f"2026-01-{1 + n % 28:02d}" if n % 5 else None,
            "completed": n % 4 == 0,
            "list_id": work["id"] if n % 2 == 0 else box["id"],
        }
        await create_task(client, user, **fields)
    everything = (await client.get(f"{user.tasks}?limit=500", headers=user.headers)).json()
    queries = [
        "",
        "status=pending",
        "status=completed",
        "tag=home",
        "tag=home&status=pending",
        "priority=high&priority=low",
        "q=bread",
        "due_before=2026-01-10&due_after=2026-01-03",
        "overdue=true",
        "overdue=false&sort=due",
        "sort=title&order=desc",
        "sort=updated",
        "sort=priority",
        "sort=position",
        "sort=position&order=desc",
        "sort=due&order=desc&status=pending",
    ]
    for query in queries:
        for list_id in (work["id"], box["id"]):
            whole = await client.get(f"{user.tasks}?limit=500&{query}", headers=user.headers)
            expected = [t["id"] for t in whole.json() if t["list_id"] == list_id]
            # Paged three at a time, following Link.
            seen: list[int] = []
            url: str | None = f"{user.tasks}?list={list_id}&limit=3&{query}"
            while url:
                r = await client.get(url, headers=user.headers)
                assert r.status_code == 200, (query, r.text)
                assert int(r.headers["x-total-count"]) == len(expected), query
                seen += [t["id"] for t in r.json()]
                url = r.links.get("next", {}).get("url")
            assert seen == expected, query
    assert len(everything) == 30


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", str(2**63)])
async def test_a_list_query_of_the_wrong_shape_is_422(
    client: httpx.AsyncClient, user: User, value: str
) -> None:
    r = await client.get(f"{user.tasks}?list={value}", headers=user.headers)
    assert assert_problem(r, 422)["errors"][0]["loc"] == ["query", "list"]


async def test_a_list_query_naming_no_list_of_the_users_is_422(
    client: httpx.AsyncClient, user: User, other: User
) -> None:
    theirs = await inbox(client, other)
    await create_task(client, other)
    for list_id in (theirs["id"], 987654321):
        r = await client.get(f"{user.tasks}?list={list_id}", headers=user.headers)
        assert assert_problem(r, 422)["errors"][0]["loc"] == ["query", "list"]


async def test_counts_follow_every_kind_of_write(client: httpx.AsyncClient, user: User) -> None:
    box = await inbox(client, user)
    work = await create_list(client, user, "Work")

    async def counts() -> dict[str, tuple[int, int]]:
        return {
            lst["name"]: (lst["task_count"], lst["pending_count"])
            for lst in await all_lists(client, user)
        }

    a = await create_task(client, user, list_id=work["id"])
    b = await create_task(client, user, list_id=work["id"], completed=True)
    c = await create_task(client, user)
    assert await counts() == {"Inbox": (1, 1), "Work": (2, 1)}
    await client.patch(f"{user.tasks}/{a['id']}/complete", headers=user.headers)
    assert await counts() == {"Inbox": (1, 1), "Work": (2, 0)}
    await client.put(
        f"{user.tasks}/{b['id']}",
        json={"list_id": box["id"], "completed": False},
        headers=user.headers,
    )
    assert await counts() == {"Inbox": (2, 2), "Work": (1, 0)}
    await client.post(
        f"{user.tasks}/{c['id']}/move",
        json={"after": a["id"], "list_id": work["id"]},
        headers=user.headers,
    )
    assert await counts() == {"Inbox": (1, 1), "Work": (2, 1)}
    await client.post(f"{user.tasks}/clear-completed", headers=user.headers)
    assert await counts() == {"Inbox": (1, 1), "Work": (1, 1)}
    await client.delete(f"{user.tasks}/{c['id']}", headers=user.headers)
    assert await counts() == {"Inbox": (1, 1), "Work": (0, 0)}
    assert (await get_list(client, user, work["id"]))["task_count"] == 0
    # The list's totals from the counts agree with the rows.
    r = await client.get(f"{user.tasks}?list={box['id']}&status=pending", headers=user.headers)
    assert r.headers["x-total-count"] == "1"


async def test_an_account_made_now_has_exactly_one_default_list(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(client)
    rows = await db.fetch("SELECT name, is_default FROM lists WHERE user_id = $1", user.id)
    assert [tuple(r) for r in rows] == [("Inbox", True)]
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            "INSERT INTO lists (user_id, name, is_default) VALUES ($1, 'Second', true)", user.id
        )


async def test_a_change_of_list_reaches_the_change_feed(
    client: httpx.AsyncClient, user: User
) -> None:
    work = await create_list(client, user, "Work")
    task = await create_task(client, user)
    since = (await client.get(f"{user.tasks}/changes", headers=user.headers)).json()["next"]
    await client.post(
        f"{user.tasks}/{task['id']}/move",
        json={"after": None, "list_id": work["id"]},
        headers=user.headers,
    )
    r = await client.get(f"{user.tasks}/changes", params={"since": since}, headers=user.headers)
    (change,) = r.json()["changes"]
    assert change["id"] == task["id"] and change["list_id"] == work["id"]
    assert change["version"] == task["version"] + 1


async def test_a_move_that_waited_while_its_list_was_deleted_finds_no_task(
    client: httpx.AsyncClient, user: User, database_url: str
) -> None:
    """A move within its own list, held behind the user's lock while another writer deletes that
    list (and the task with it), is 404 like any write to a deleted task: never a 422 naming a
    list the client did not send."""
    doomed = (await create_list(client, user, "Doomed"))["id"]
    task = await create_task(client, user, list_id=doomed)
    holder = await asyncpg.connect(database_url, statement_cache_size=0)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", user.id)
            move = asyncio.ensure_future(
                client.post(
                    f"{user.tasks}/{task['id']}/move", json={"after": None}, headers=user.headers
                )
            )
            await asyncio.sleep(0.5)  # the move now waits for the user's row
            assert not move.done()
            await holder.execute("DELETE FROM lists WHERE id = $1", doomed)
        assert_problem(await move, 404)
    finally:
        await holder.close()
