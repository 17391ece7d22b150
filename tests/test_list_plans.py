"""The list query uses an index in every sort order and with every filter: EXPLAIN of each
rendered statement, for a user with 10,000 tasks among other users' 200,000, shows no
sequential scan of tasks (first page and a page after a cursor; custom and generic plans)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest

from todo_api.db.tasks import ORDERS, PAGES, SORTS, Search, cursor_key, like_pattern

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
    "overdue": {"overdue": True, "today": "2026-06-01"},
}


@pytest.fixture(scope="module")
async def crowd(database_url: str) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A user with 10,000 tasks (dates, priorities, tags spread out) among 100 users with 2,000."""
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
    for n, user_id in enumerate(users):
        await conn.execute(
            """
            INSERT INTO tasks (user_id, title, completed, completed_at, due_date, priority, tags,
                               position)
            SELECT $1, 'job ' || i, i % 3 = 0, CASE WHEN i % 3 = 0 THEN now() END,
                   CASE WHEN i % 4 <> 0 THEN date '2026-01-01' + (i % 400) END,
                   (ARRAY['none', 'low', 'medium', 'high'])[1 + i % 4]::task_priority,
                   ARRAY['t' || (i % 10), 'u' || (i % 7)],
                   'a' || lpad(i::text, 6, '0') || 'V'
            FROM generate_series(1, $2) AS i
            """,
            user_id,
            10_000 if n == 0 else 2_000,
        )
    await conn.execute("VACUUM ANALYZE tasks")  # as autovacuum would have
    yield conn, users[0]
    await conn.execute("DELETE FROM users WHERE id = ANY($1)", users)
    await conn.close()


def arguments(
    user_id: str, values: dict[str, Any], after: tuple[Any, int] | None
) -> dict[str, Any]:
    key, last_id = after if after else (None, None)
    return {
        "user_id": user_id,
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
        "limit": 101,
        # As todo_api.db.tasks.Filters.counted decides: status and at most one tag.
        "from_counts": set(values) <= {"completed", "tags"} and len(values.get("tags", [])) <= 1,
        "after_key": key.isoformat() if isinstance(key, date) else key,
        "after_id": last_id,
        **values,
    }


@pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])
@pytest.mark.parametrize("filter_name", list(FILTERS))
async def test_no_list_query_scans_the_whole_table(
    crowd: tuple[asyncpg.Connection, str], filter_name: str, generic: bool
) -> None:
    conn, user_id = crowd
    await conn.execute(f"SET plan_cache_mode = {'force_generic_plan' if generic else 'auto'}")
    try:
        for sort in SORTS:
            for order in ORDERS:
                search = Search.of(FILTERS[filter_name].get("pattern"))
                first = PAGES[sort, order, False, search]
                values = arguments(user_id, FILTERS[filter_name], None)
                rows = await conn.fetch(*first(**{**values, "limit": 5001}))
                middle = rows[len(rows) // 2] if rows and rows[0]["id"] is not None else None
                after = (cursor_key(sort, middle), middle["id"]) if middle else None
                for statement, args in (
                    (first, values),
                    (
                        PAGES[sort, order, True, search],
                        arguments(user_id, FILTERS[filter_name], after),
                    ),
                ):
                    if statement is not first and after is None:
                        continue
                    sql, *params = statement(**args)
                    plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + sql, *params))
                    assert "Seq Scan on tasks" not in plan, (sort, order, filter_name, plan)
    finally:
        await conn.execute("RESET plan_cache_mode")
