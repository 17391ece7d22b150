"""The list query uses an index in every sort order and with every filter: EXPLAIN of each
rendered statement, for a user with 10,000 tasks in 200 lists among other users' 200,000, shows
no sequential scan of tasks (first page and a page after a cursor; custom and generic plans;
with and without a list named). Within a big list, every sort order is read from its index in
order (sort=position and sort=created from their indexes leading (user_id, list_id)): no sort
of the list's tasks; a small list is found by its index. sort=due's key includes due_at (a third
of the dated tasks have a due time), and so does `overdue`.

Those plans are custom ones, made for the values (the list named, the filters given), and the
service runs custom plans: a page statement prepared and run again and again, as the pool's
statement cache runs it, never switches to its generic plan. It must not: a generic plan knows
neither the list's size nor which filters are set (every `(:x IS NULL OR ...)` is estimated to
keep a fraction of the rows), so it reads a list, or the user's pile, whole and sorts it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from tests.conftest import PREPARED_STATEMENTS
from todo_api.db.tasks import COUNT_LIMIT, ORDERS, PAGES, SORTS, Search, cursor_key, like_pattern

pytestmark = pytest.mark.anyio

OTHERS = 100  # users with 2,000 tasks each: the 10,000 are 5% of the table

FILTERS: dict[str, dict[str, Any]] = {
    "none": {},
    "status": {"completed": False},
    "q": {"pattern": like_pattern("job 12")},
    "q without a trigram": {"pattern": like_pattern("b 1")},
    "tag": {"tags": ["t3"]},
    "tags+priority": {"tags": ["t3", "t5"], "priorities": ["high", "low"]},
    "due range": {"due_after": "2026-03-01", "due_before": "2026-03-31"},
    "overdue": {
        "overdue": True,
        "today": "2026-06-01",
        "now": datetime(2026, 6, 1, 12, tzinfo=UTC),
    },
}
# The list named, if any: none, the user's Inbox (half of their tasks), or a small list (one of
# 199 sharing the other half).
LISTS = ("no list", "big list", "small list")
# The indexes leading (user_id, list_id): the manual order's (migrations/0007) and created's (0015).
LIST_INDEXES = ("tasks_user_list_position_key", "tasks_user_list_created_idx")


@pytest.fixture(scope="module")
async def crowd(
    database_url: str,
) -> AsyncIterator[tuple[asyncpg.Connection, str, dict[str, int | None]]]:
    """A user with 10,000 tasks (dates, priorities, tags spread out) in 200 lists (half in the
    Inbox, the rest spread over 199 others) among 100 users with 2,000 (in their Inbox)."""
    conn = await asyncpg.connect(database_url, statement_cache_size=0)
    users = []
    for n in range(OTHERS + 1):
        users.append(
            await conn.fetchval(
                "INSERT INTO users (email, username, hashed_password) "
                "VALUES ($1, $2, 'x') RETURNING id",
                f"plan{n}@example.com",
                f"plan{n}",
            )
        )
    await conn.execute(
        "INSERT INTO lists (user_id, name) SELECT $1, 'list ' || i FROM generate_series(1, 199) i",
        users[0],
    )
    others = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM lists WHERE user_id = $1 AND NOT is_default ORDER BY id", users[0]
        )
    ]
    for n, user_id in enumerate(users):
        await conn.execute(
            """
            INSERT INTO tasks (user_id, title, completed, completed_at, due_date, priority, tags,
                               position, list_id, due_time, due_at)
            SELECT $1, 'job ' || i, i % 3 = 0, CASE WHEN i % 3 = 0 THEN now() END,
                   CASE WHEN i % 4 <> 0 THEN date '2026-01-01' + (i % 400) END,
                   (ARRAY['none', 'low', 'medium', 'high'])[1 + i % 4]::task_priority,
                   ARRAY['t' || (i % 10), 'u' || (i % 7)],
                   'a' || lpad(i::text, 6, '0') || 'V',
                   CASE WHEN i % 2 = 1 AND cardinality($3::bigint[]) > 0
                        THEN ($3::bigint[])[1 + (i / 2) % cardinality($3::bigint[])] END,
                   CASE WHEN i % 4 <> 0 AND i % 3 = 1
                        THEN time '08:00' + (i % 600) * interval '1 minute' END,
                   CASE WHEN i % 4 <> 0 AND i % 3 = 1
                        THEN (date '2026-01-01' + (i % 400)) + time '08:00'
                             + (i % 600) * interval '1 minute' END
            FROM generate_series(1, $2) AS i
            """,
            user_id,
            10_000 if n == 0 else 2_000,
            others if n == 0 else [],
        )
    await conn.execute("VACUUM ANALYZE tasks")  # as autovacuum would have
    inbox = await conn.fetchval("SELECT id FROM lists WHERE user_id = $1 AND is_default", users[0])
    yield conn, users[0], {"no list": None, "big list": inbox, "small list": others[7]}
    await conn.execute("DELETE FROM users WHERE id = ANY($1)", users)
    await conn.close()


def arguments(
    user_id: str, list_id: int | None, values: dict[str, Any], after: tuple[Any, int] | None
) -> dict[str, Any]:
    key, last_id = after if after else (None, None)
    key, then = key if isinstance(key, tuple) else (key, None)
    return {
        "user_id": user_id,
        "list_id": list_id,
        "session_id": "a-session",  # the plan is the same whether it has ended or not
        "token_id": None,
        "completed": None,
        "pattern": None,
        "tags": None,
        "priorities": None,
        "due_after": None,
        "due_before": None,
        "overdue": None,
        "today": None,
        "now": None,
        "limit": 101,
        # As todo_api.db.tasks.Filters.counted decides: status and at most one tag (none with
        # a list).
        "from_counts": set(values) <= {"completed", "tags"}
        and len(values.get("tags", [])) <= (0 if list_id else 1),
        # As Filters.only_overdue and Filters.bounded decide.
        "overdue_count": values.get("overdue") is True
        and set(values) <= {"overdue", "today", "now"}
        and not list_id,
        "count_limit": COUNT_LIMIT + 1
        if {"pattern", "due_after", "due_before", "overdue"} & set(values)
        else None,
        "after_key": key.isoformat() if isinstance(key, date) else key,
        "after_id": last_id,
        "after_then": then.isoformat() if isinstance(then, datetime) else None,
        **values,
    }


def _literal(value: Any) -> str:
    """`value` as SQL text (for EXECUTE's arguments, which cannot be parameters)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(map(_literal, value)) + "]" if value else "'{}'"
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


async def explain(conn: asyncpg.Connection, sql: str, params: list[Any], generic: bool) -> str:
    """EXPLAIN of the statement: a custom plan (made for these values), or its generic plan
    (EXPLAIN with parameters plans for their values: only EXECUTE of a statement prepared in
    SQL shows the generic one). In one transaction, so a transaction pooler keeps it on one
    server connection."""
    if not generic:
        return "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + sql, *params))
    async with conn.transaction():
        oids = [t.oid for t in (await conn.prepare(sql)).get_parameters()]
        types = [
            r[0]
            for r in await conn.fetch(
                "SELECT format_type(o, NULL) FROM unnest($1::oid[]) WITH ORDINALITY AS p (o, n) "
                "ORDER BY n",
                oids,
            )
        ]
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE page_plan ({', '.join(types)}) AS {sql}")
        arguments = ", ".join(f"{_literal(v)}::{t}" for v, t in zip(params, types, strict=True))
        plan = await conn.fetch(f"EXPLAIN EXECUTE page_plan ({arguments})")
        await conn.execute("DEALLOCATE page_plan")
    return "\n".join(r[0] for r in plan)


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
@pytest.mark.parametrize("filter_name", list(FILTERS))
async def test_no_list_query_scans_the_whole_table(
    crowd: tuple[asyncpg.Connection, str, dict[str, int | None]],
    filter_name: str,
    generic: bool,
    list_name: str,
) -> None:
    conn, user_id, lists = crowd
    list_id = lists[list_name]
    in_list = list_id is not None
    for sort in SORTS:
        for order in ORDERS:
            search = Search.of(FILTERS[filter_name].get("pattern"))
            first = PAGES[sort, order, False, search, in_list]
            values = arguments(user_id, list_id, FILTERS[filter_name], None)
            rows = await conn.fetch(*first(**{**values, "limit": 5001}))
            middle = rows[len(rows) // 2] if rows and rows[0]["id"] is not None else None
            after = (cursor_key(sort, middle), middle["id"]) if middle else None
            for statement, args in (
                (first, values),
                (
                    PAGES[sort, order, True, search, in_list],
                    arguments(user_id, list_id, FILTERS[filter_name], after),
                ),
            ):
                if statement is not first and after is None:
                    continue
                sql, *params = statement(**args)
                plan = await explain(conn, sql, params, generic)
                assert "Seq Scan on tasks" not in plan, (sort, order, filter_name, plan)
                if generic or not in_list or filter_name not in ("none", "status"):
                    continue
                if list_name == "small list" or sort == "position":
                    # The list is found by an index leading (user_id, list_id) (a list of 25
                    # tasks is sorted: cheaper than walking the user's tasks in order).
                    assert any(index in plan for index in LIST_INDEXES), (sort, order, plan)
                if list_name == "big list":
                    # Read from the sort's index in order, as far as the page goes: a big
                    # list's manual order from (user_id, list_id, position), newest first
                    # from (user_id, list_id, created_at), every other order from the user's
                    # index, keeping the list's rows.
                    assert "Sort" not in plan, (sort, order, plan)
                    if sort == "created":
                        assert "tasks_user_list_created_idx" in plan, (order, plan)


@pytest.mark.skipif(not PREPARED_STATEMENTS, reason="no prepared statements behind a pooler")
@pytest.mark.parametrize("list_name", LISTS)
async def test_a_page_statement_run_again_and_again_keeps_planning_for_its_values(
    crowd: tuple[asyncpg.Connection, str, dict[str, int | None]], list_name: str
) -> None:
    conn, user_id, lists = crowd
    list_id = lists[list_name]
    for sort in SORTS:
        for order in ORDERS:
            sql, *params = PAGES[sort, order, False, Search.NONE, list_id is not None](
                **arguments(user_id, list_id, {}, None)
            )
            name = f"page_{sort}_{order}"
            statement = await conn.prepare(sql, name=name)
            for _ in range(8):  # past the 5 custom plans after which one may go generic
                await statement.fetch(*params)
            plans = await conn.fetchrow(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
                name,
            )
            await conn.execute(f"DEALLOCATE {name}")
            assert plans is not None and tuple(plans) == (0, 8), (sort, order)
