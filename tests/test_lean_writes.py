"""Migration 0011 (issue 23) makes the write path cheaper without changing a rule: the tags rule
in PL/pgSQL accepts exactly the arrays the SQL function of 0003 accepted (checked side by side
in the same database, for hypothesis-generated arrays and the shapes a client cannot send); a
clear-completed that has nothing to delete takes no lock (so never waits behind the user's
writes), and one that has still does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import User, create_task
from tests.test_schema_rules import EDGES
from todo_api.testing import ROOT

# The 0003 function, under another name, from the rollback that puts it back.
_OLD_RULE = (
    (ROOT / "migrations" / "0011_lean_writes.rollback.sql")
    .read_text()
    .split("CREATE OR REPLACE FUNCTION task_tags_valid", 1)[1]
    .split("$$;", 1)[0]
)


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute("CREATE TEMP TABLE IF NOT EXISTS seen (x int)")  # the session's temp schema
        c.execute(f"CREATE FUNCTION pg_temp.tags_rule_0003{_OLD_RULE}$$")
        yield c


def agree(conn: psycopg.Connection[Any], literal: str) -> None:
    row = conn.execute(
        "SELECT task_tags_valid(%s::text[]), pg_temp.tags_rule_0003(%s::text[])",
        (literal, literal),
    ).fetchone()
    assert row is not None and row[0] is row[1], (literal, row)


TAG = st.one_of(
    st.text(alphabet=st.sampled_from(EDGES + ",ABZaz\x00\x01\x7f\x9f"), max_size=5),
    st.text(min_size=38, max_size=42, alphabet="ab"),
    st.sampled_from(["home", "work", "x"]),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tags=st.lists(st.one_of(TAG, st.none()), max_size=23))
def test_the_plpgsql_tags_rule_accepts_exactly_what_the_sql_one_did(
    conn: psycopg.Connection[Any], tags: list[str | None]
) -> None:
    tags = [t.replace("\x00", "") if t is not None else None for t in tags]
    row = conn.execute(
        "SELECT task_tags_valid(%s::text[]), pg_temp.tags_rule_0003(%s::text[])", (tags, tags)
    ).fetchone()
    assert row is not None and row[0] is row[1], (tags, row)


@pytest.mark.parametrize(
    "literal",
    ["{}", "{a}", "{{a,b},{c,d}}", "{{a}}", "[2:3]={a,b}", "[2:3]={a,a}", "{a,NULL}", '{""}'],
)
def test_the_tags_rule_agrees_on_shapes_no_client_sends(
    conn: psycopg.Connection[Any], literal: str
) -> None:
    agree(conn, literal)


@pytest.mark.anyio
async def test_a_clear_with_nothing_completed_neither_waits_for_nor_takes_the_users_lock(
    client: httpx.AsyncClient, user: User, database_url: str
) -> None:
    """While another transaction holds the user's row (as a write of theirs does until it
    commits), a clear that finds nothing completed answers at once; one that finds a completed
    task waits for it, as every write that numbers changes must."""
    await create_task(client, user, title="pending")
    holder = await asyncpg.connect(database_url)
    try:
        lock = holder.transaction()
        await lock.start()
        await holder.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user.id)
        clear = client.post(f"{user.tasks}/clear-completed", headers=user.headers)
        r = await asyncio.wait_for(clear, 10)
        assert r.status_code == 200 and r.json() == {"deleted": 0}
        await lock.rollback()
        await create_task(client, user, title="done", completed=True)
        lock = holder.transaction()
        await lock.start()
        await holder.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user.id)
        waiting = asyncio.ensure_future(
            client.post(f"{user.tasks}/clear-completed", headers=user.headers)
        )
        await asyncio.sleep(0.5)
        assert not waiting.done()  # behind the lock
        await lock.rollback()
        r = await asyncio.wait_for(waiting, 10)
        assert r.status_code == 200 and r.json() == {"deleted": 1}
    finally:
        await holder.close()
