"""The query loader: named parameters, pasted fragments, and mistakes found before a request."""

from __future__ import annotations

import re

import pytest

from todo_api.db.queries import QUERIES, QueryError, compile_query, query


def test_named_parameters_become_numbered_in_order_of_first_use() -> None:
    q = compile_query("q", "SELECT :b::int, :a, :b, '{}'::text[]")
    assert q.sql == "SELECT $1::int, $2, $1, '{}'::text[]"
    assert q.parameters == ("b", "a")
    assert q(a=1, b=2) == (q.sql, 2, 1)


def test_whole_line_comments_hold_no_parameters() -> None:
    q = compile_query("q", "-- uses :ghost\nSELECT :real")
    assert q.parameters == ("real",)


def test_a_missing_argument_is_a_query_error_naming_it() -> None:
    q = compile_query("q", "SELECT :user_id, :task_id")
    with pytest.raises(QueryError, match="task_id"):
        q(user_id="u")


def test_fragments_are_pasted_in_parentheses_without_their_comments() -> None:
    q = compile_query("q", "SELECT 1 WHERE {{rule}} FOR UPDATE", {"rule": "-- why\na OR :b\n"})
    assert q.sql == "SELECT 1 WHERE (a OR $1) FOR UPDATE"


def test_an_unknown_fragment_or_query_is_an_error_at_load() -> None:
    with pytest.raises(QueryError, match=r"_nope\.sql"):
        compile_query("q", "SELECT {{nope}}")
    with pytest.raises(QueryError, match=r"no sql/nope\.sql"):
        query("nope")


def _unnumbered(sql: str) -> str:
    return re.sub(r"\$\d+", "$?", sql)


def test_every_statement_acting_for_a_caller_applies_the_caller_rule() -> None:
    caller_rule = _unnumbered(
        QUERIES["user_is_active"].sql.split(" AS may_act")[0].removeprefix("SELECT u.is_active, ")
    )
    assert "sessions" in caller_rule  # the rule checks the token's session too
    acting = ("task", "sync_", "sessions_", "user_by_id", "user_update", "user_delete", "user_set")
    for name, q in QUERIES.items():
        if name.startswith(acting):
            assert caller_rule in _unnumbered(q.sql), name
