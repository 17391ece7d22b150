"""`q` has two spellings (todo_api/db/tasks.py, Search): ILIKE, which the trigram indexes serve,
and lower() LIKE lower(), which none does, for text without a trigram. They must find the same
tasks: checked on the real server for any text and pattern, and through the API for both."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import User, create_task
from todo_api.db.tasks import Search, like_pattern

# Letters whose case rules differ between engines and locales, LIKE's own special characters,
# and any other character but surrogates.
EDGES = string.ascii_letters + string.digits + " %_\\éÉßẞİ\u0131IiΣ\u03c3ςﬀ€😀\u0301"
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(EDGES), st.characters(blacklist_categories=("Cs",), min_codepoint=1)
    ),
    max_size=10,
)


@pytest.fixture(scope="module")
def sql(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.prepare_threshold = None  # a transaction pooler keeps no prepared statement
        yield conn


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, search=TEXT)
def test_both_spellings_of_a_search_match_the_same_text(
    sql: psycopg.Connection[Any], text: str, search: str
) -> None:
    pattern = like_pattern(search)
    row = sql.execute(
        "SELECT %(t)s ILIKE %(p)s, lower(%(t)s) LIKE lower(%(p)s)", {"t": text, "p": pattern}
    ).fetchone()
    assert row is not None
    assert row[0] == row[1], (text, search)


@pytest.mark.parametrize(
    ("search", "spelling"),
    [
        ("MILK", Search.TRIGRAMS),
        ("Ilk", Search.TRIGRAMS),
        ("mi", Search.SCAN),
        ("k o", Search.SCAN),
    ],
)
@pytest.mark.anyio
async def test_a_search_finds_the_same_tasks_whichever_spelling_serves_it(
    client: httpx.AsyncClient, user: User, search: str, spelling: Search
) -> None:
    assert Search.of(search) is spelling
    wanted = await create_task(client, user, title="Buy milk or cream")
    await create_task(client, user, title="Walk the dog")
    described = await create_task(client, user, title="Errands", description="get MILK oat")
    response = await client.get(user.tasks, params={"q": search}, headers=user.headers)
    assert response.status_code == 200
    found = {t["id"] for t in response.json()}
    expected = {wanted["id"], described["id"]}
    assert found == expected
    assert response.headers["X-Total-Count"] == str(len(expected))
