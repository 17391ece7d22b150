"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS).

A password is 8 to 72 bytes in UTF-8, which JSON Schema's lengths (in characters) cannot say:
the document marks it `format: password`, and this teaches the generator that format.

A list cursor is signed by the server, so no generator can make a valid one: every generated
cursor would be refused (422) however well-formed. Before each call, a generated cursor that
the schema allows is swapped for a real one, fetched from the service for the request's sort
and order; the refusal of forged cursors is pinned in tests/test_paging.py instead.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import httpx
import schemathesis
from hypothesis import strategies as st

SORTS = {"created": "desc", "updated": "desc", "title": "asc"}
CURSOR_MAX_CHARS = 1024


PASSWORD_BYTES = (8, 72)


def _fits(password: str) -> bool:
    low, high = PASSWORD_BYTES
    return low <= len(password.encode("utf-8", "surrogatepass")) <= high


schemathesis.openapi.format(
    "password",
    st.text(
        st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=8, max_size=72
    ).filter(_fits),
)


@functools.cache
def real_cursor(sort: str, order: str) -> str:
    base = os.environ["TODO_FUZZ_BASE_URL"]
    user_id = os.environ["TODO_FUZZ_USER_ID"]
    headers = {"Authorization": f"Bearer {os.environ['TODO_FUZZ_TOKEN']}"}
    r = httpx.get(
        f"{base}/api/{user_id}/tasks",
        params={"sort": sort, "order": order, "limit": 1},
        headers=headers,
    )
    link = r.links["next"]["url"]
    return str(httpx.URL(link).params["cursor"])


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    query = case.query
    if not query or not isinstance(query.get("cursor"), str):
        return
    if len(query["cursor"]) > CURSOR_MAX_CHARS:
        return  # a deliberate violation of the schema: keep it
    sort = query.get("sort", "created")
    order = query.get("order", SORTS.get(sort) if isinstance(sort, str) else None)
    if isinstance(sort, str) and sort in SORTS and order in ("asc", "desc"):
        query["cursor"] = real_cursor(sort, order)
