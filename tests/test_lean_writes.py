"""Migration 0011 (issue 23) makes the write path cheaper without changing a rule: the tags rule
in PL/pgSQL accepts exactly the arrays the SQL function of 0003 accepted (checked side by side
in the same database, for hypothesis-generated arrays and the shapes a client cannot send)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
