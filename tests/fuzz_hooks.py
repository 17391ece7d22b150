"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS).

A password is 8 to 72 bytes in UTF-8, which JSON Schema's lengths (in characters) cannot say:
the document gives the character bounds every valid password meets (2 to 72: four bytes a
character at most, one at least) and marks it `format: password`, and this teaches the
generator that format. The coverage phase ignores formats and sends boundary values (a
2-character password of 2 bytes) as valid: a valid-mode password that breaks only the byte
rule is padded or cut to fit before it is sent, so the case stays valid and is one the service
must accept.

The same rule, the other way round: a negative case may negate the password's `format` (or its
character lengths) and still draw a password of 8 to 72 bytes, which the service rightly
accepts; schemathesis then reports "schema-violating request accepted" (the intermittent ST201 of
round one: the document's lengths count characters, the rule counts bytes). Such a negative
body is made negative for real elsewhere: its email becomes one that no schema validator or
server accepts. (Swapping the password for one that breaks only the byte rule does not work:
schemathesis revalidates the sent body and, finding the characters within bounds, calls the
refusal a defect.)

A list cursor is signed by the server, so no generator can make a valid one: every generated
cursor would be refused (422) however well-formed. Before each call, a generated cursor that
the schema allows is swapped for a real one, fetched from the service for the request's sort
and order; the refusal of forged cursors is pinned in tests/test_paging.py instead.

A sync token (`since`) is signed as well: a generated one is swapped for a real one the same
way; the refusal of forged tokens is pinned in tests/test_sync.py.

The fuzzing user's token is given by an auth provider (FuzzerToken), not by a fixed header:
some account operations end the session of the token that calls them (logout, ending sessions)
or need the account's password (changing it, deleting the account), so each call of those is
made for a throwaway account registered just before, and a valid body gets that account's real
password. A refresh token is opaque and single-use, so a generated one that the schema allows
is swapped for a real, unused one. The refusals of wrong ones are pinned in tests/test_accounts.py.

A webhook's url must not name or resolve to a private or loopback address, and plain http:// is
allowed only by a setting: rules about addresses and settings that no schema can say. A
generated url the schema allows is swapped for a real https one (under `.invalid`, which never
resolves, so deliveries fail quietly); the refusals are pinned in tests/test_webhooks.py and
tests/test_webhook_addresses.py. A user may have at most 10 webhooks: before a create, the
fuzzing user's webhooks are cleared once they are 9 (the limit's 422 is pinned there too).

Likewise a move's `after` must name another task of the user's, which no schema can say: a
generated id the schema allows is swapped for a real one (not the moved task); the 422 for
other ids is pinned in tests/test_planning.py. The same for lists: a task's `list_id` (create,
PUT, move) and the listing's `list` become the user's Inbox (so every task stays in it, and a
real `after` is always a task of the same list), and a list move's `after` another real list
of the user's; the 422s for other ids are pinned in tests/test_lists.py and
tests/test_ownership.py. A user may have 200 lists: before a create, lists the fuzzer made are
deleted once it has 150 (they hold no task: tasks stay in the Inbox).

A task's schedule has rules across fields and across requests (a due_time or a recurrence needs
a due date, a "before" reminder a due time, whether stored or given; a rule must yield a date on
or after the due date; a reminder window is at most 31 days long): a valid body or window is
made consistent before it is sent (the fields it needs are given too), and the `rrule` format is
taught rules that always yield their due date. The refusals are pinned in tests/test_time.py
and tests/test_schema_rules.py. A negative body with more than five reminders that merge into
five or fewer is made more than five for real (the document's maxItems counts after merging).
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import jwt
import schemathesis
from hypothesis import strategies as st

SORTS = {
    "created": "desc",
    "updated": "desc",
    "title": "asc",
    "due": "asc",
    "priority": "desc",
    "position": "asc",
}
CURSOR_MAX_CHARS = 1024


PASSWORD_BYTES = (8, 72)


def _fits(password: str) -> bool:
    low, high = PASSWORD_BYTES
    return low <= len(password.encode("utf-8", "surrogatepass")) <= high


_PASSWORD_CHARACTERS = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
schemathesis.openapi.format(
    "password",
    st.one_of(
        st.text(_PASSWORD_CHARACTERS, min_size=8, max_size=72),
        # Few characters, many bytes each: valid passwords of 2 to 7 characters.
        st.text(
            st.characters(min_codepoint=0x800, exclude_categories=["Cs"]), min_size=2, max_size=7
        ),
    ).filter(_fits),
)


# Rules whose series always starts at their due date (no BYxxx part: the due date sets them).
schemathesis.openapi.format(
    "rrule",
    st.builds(
        lambda prefix, freq, interval, end: (
            prefix + ";".join(p for p in (freq, interval, end) if p)
        ),
        st.sampled_from(["", "RRULE:", "rrule:"]),
        st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY", "freq=monthly", "FREQ=YEARLY"]),
        st.sampled_from(["", "INTERVAL=1", "INTERVAL=1000", "interval=7"]),
        st.sampled_from(["", "COUNT=1", "COUNT=1000", "UNTIL=99991231", "UNTIL=99991231T235959Z"]),
    ),
)


def _rule_for(rule: str, due: Any) -> bool:
    """Whether `rule` is one the service takes for a task due on `due`."""
    from pydantic_core import PydanticCustomError

    from todo_api.models.time import parse_rule

    try:
        day = date.fromisoformat(due)
        return parse_rule(rule).yields_on_or_after(day)
    except (PydanticCustomError, ValueError, TypeError):
        return False


def _consistent_schedule(case: Any, kwargs: dict[str, Any]) -> None:
    """A valid task body gives what its schedule fields need, whatever the task holds."""
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        if not isinstance(body, dict):
            continue
        reminders = body.get("reminders")
        before = isinstance(reminders, list) and any(
            isinstance(r, dict) and "before" in r for r in reminders
        )
        if before and not isinstance(body.get("due_time"), str):
            body["due_time"] = "09:30"
        timed = isinstance(body.get("due_time"), str) or isinstance(body.get("recurrence"), str)
        if timed and not isinstance(body.get("due_date"), str):
            body["due_date"] = "2026-12-08"
        if isinstance(body.get("recurrence"), str) and not _rule_for(
            body["recurrence"], body["due_date"]
        ):
            body["recurrence"] = "FREQ=DAILY"  # the pattern's coverage cases are not all rules
        if "due_date" in body and body["due_date"] is None:
            body.setdefault("recurrence", None)
        if ("due_date" in body and body["due_date"] is None) or (
            "due_time" in body and body["due_time"] is None
        ):
            body.setdefault("reminders", None)


def _more_reminders_for_real(case: Any, kwargs: dict[str, Any]) -> None:
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        reminders = body.get("reminders") if isinstance(body, dict) else None
        if isinstance(reminders, list) and len(reminders) > 5:
            reminders[:] = [{"before": n} for n in range(len(reminders))]


def _reminder_window(case: Any, kwargs: dict[str, Any]) -> None:
    """A valid window: from now, one day long."""
    query = case.query or {}
    if {"from", "to"} & set(query):
        now = datetime.now(UTC)
        window = {"from": now.isoformat(), "to": (now + timedelta(days=1)).isoformat()}
        query.update({k: v for k, v in window.items() if k in query})
        if isinstance(kwargs.get("params"), dict):
            kwargs["params"].update({k: v for k, v in window.items() if k in query})


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


NOT_AN_EMAIL = "not an email"


def _negative(case: Any, part: str = "body") -> bool:
    """Whether the case's `part` (body or query) was generated to break the schema."""
    meta = case.meta
    if meta is None:
        return False
    found = next((c for loc, c in meta.components.items() if str(loc).endswith(part)), None)
    mode = found.mode if found is not None else meta.generation.mode
    return str(getattr(mode, "value", mode)) == "negative"


def _negative_body(case: Any) -> bool:
    return _negative(case, "body")


def make_password_violations_real(case: Any, kwargs: dict[str, Any]) -> None:
    if not _negative_body(case):
        return
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        if not isinstance(body, dict):
            continue
        password = body.get("password")
        if isinstance(password, str) and "\x00" not in password and _fits(password):
            body["email"] = NOT_AN_EMAIL


def _fitted(password: str) -> str:
    """The password, padded or cut to 8 to 72 bytes (still 2 to 72 characters)."""
    low, high = PASSWORD_BYTES
    while len(password.encode("utf-8", "surrogatepass")) > high:
        password = password[:-1]
    padding = low - len(password.encode("utf-8", "surrogatepass"))
    return password + "x" * max(padding, 0)


NEW_PASSWORD_FIELDS = ("password", "new_password")  # under the registration rule


def make_valid_passwords_real(case: Any, kwargs: dict[str, Any]) -> None:
    if _negative_body(case):
        return
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        for name in NEW_PASSWORD_FIELDS:
            password = body.get(name) if isinstance(body, dict) else None
            if isinstance(password, str) and "\x00" not in password and not _fits(password):
                body[name] = _fitted(password)


def real_task_ids() -> tuple[int, ...]:
    """The user's tasks now (not cached: the stateful phase deletes some as it goes)."""
    base = os.environ["TODO_FUZZ_BASE_URL"]
    user_id = os.environ["TODO_FUZZ_USER_ID"]
    headers = {"Authorization": f"Bearer {os.environ['TODO_FUZZ_TOKEN']}"}
    r = httpx.get(f"{base}/api/{user_id}/tasks", params={"limit": 3}, headers=headers)
    assert r.status_code == 200, (r.status_code, r.text)
    return tuple(task["id"] for task in r.json())


def _real_after(case: Any, kwargs: dict[str, Any]) -> None:
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        after = body.get("after") if isinstance(body, dict) else None
        whole = isinstance(after, int | float) and not isinstance(after, bool)
        if whole and after == int(after) and 1 <= after < 2**63:
            moved = str((case.path_parameters or {}).get("task_id"))
            body["after"] = next(i for i in real_task_ids() if str(i) != moved)


def _fuzzer() -> tuple[str, dict[str, str]]:
    """The fuzzing user's base URL of their routes, and their headers."""
    base = os.environ["TODO_FUZZ_BASE_URL"]
    user_id = os.environ["TODO_FUZZ_USER_ID"]
    return f"{base}/api/{user_id}", {"Authorization": f"Bearer {os.environ['TODO_FUZZ_TOKEN']}"}


def real_lists() -> list[dict[str, Any]]:
    """The user's lists now, at least two of them (one is made when only the Inbox is left)."""
    base, headers = _fuzzer()
    r = httpx.get(f"{base}/lists", headers=headers)
    assert r.status_code == 200, (r.status_code, r.text)
    found: list[dict[str, Any]] = r.json()
    if len(found) < 2:
        made = httpx.post(f"{base}/lists", json={"name": "fuzz spare"}, headers=headers)
        assert made.status_code in (201, 409), (made.status_code, made.text)
        return real_lists()
    return found


def _inbox_id() -> int:
    return int(next(lst["id"] for lst in real_lists() if lst["is_default"]))


def _is_row_id(value: Any) -> bool:
    whole = isinstance(value, int | float) and not isinstance(value, bool)
    return whole and value == int(value) and 1 <= value < 2**63


def _real_list_ids(case: Any, kwargs: dict[str, Any]) -> None:
    """A task's list_id in a body, and the listing's `list`, name the Inbox."""
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        if isinstance(body, dict) and _is_row_id(body.get("list_id")):
            body["list_id"] = _inbox_id()
    query = case.query
    if isinstance(query, dict) and isinstance(query.get("list"), int | str):
        raw = str(query["list"])
        if raw.isdigit() and 1 <= int(raw) < 2**63:
            query["list"] = _inbox_id()
            if isinstance(kwargs.get("params"), dict):
                kwargs["params"]["list"] = query["list"]


def _real_list_after(case: Any, kwargs: dict[str, Any]) -> None:
    moved = str((case.path_parameters or {}).get("list_id"))
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        if isinstance(body, dict) and _is_row_id(body.get("after")):
            body["after"] = next(lst["id"] for lst in real_lists() if str(lst["id"]) != moved)


def _room_for_a_list() -> None:
    """Delete the lists the fuzzer made (all empty) once it has 150."""
    base, headers = _fuzzer()
    lists = real_lists()
    if len(lists) < 150:
        return
    for lst in lists:
        if not lst["is_default"] and lst["task_count"] == 0:
            httpx.delete(f"{base}/lists/{lst['id']}", headers=headers)


def real_sync_token() -> str:
    base = os.environ["TODO_FUZZ_BASE_URL"]
    user_id = os.environ["TODO_FUZZ_USER_ID"]
    headers = {"Authorization": f"Bearer {os.environ['TODO_FUZZ_TOKEN']}"}
    r = httpx.get(f"{base}/api/{user_id}/tasks/changes", params={"limit": 1}, headers=headers)
    return str(r.json()["next"])


# Operations that end their token's session or need the account's password; and making a
# personal access token, of which a user may hold 20 (the 21st is refused, body valid or not).
THROWAWAY_OPERATIONS = {
    ("POST", "/api/auth/tokens"),
    ("POST", "/api/auth/logout"),
    ("DELETE", "/api/auth/sessions"),
    ("DELETE", "/api/auth/sessions/{session_id}"),
    ("PUT", "/api/auth/password"),
    ("DELETE", "/api/auth/me"),
}
THROWAWAY_PASSWORD = "throwaway password"
PASSWORD_FIELDS = ("password", "current_password")


def throwaway_account() -> dict[str, Any]:
    """A new account's login response."""
    base = os.environ["TODO_FUZZ_BASE_URL"]
    body = {"email": f"t{uuid.uuid4().hex}@example.com", "password": THROWAWAY_PASSWORD}
    r = httpx.post(f"{base}/api/auth/register", json=body)
    r.raise_for_status()
    login: dict[str, Any] = r.json()
    return login


def _throwaway_operation(operation: Any) -> bool:
    return (operation.method.upper(), operation.path) in THROWAWAY_OPERATIONS


@schemathesis.auth(refresh_interval=None, retry_on=[])
class FuzzerToken:
    """The fuzzing user's token; a new throwaway account's for THROWAWAY_OPERATIONS."""

    def get(self, case: Any, context: Any) -> str:
        if _throwaway_operation(context.operation):
            return str(throwaway_account()["access_token"])
        return os.environ["TODO_FUZZ_TOKEN"]

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _real_passwords(case: Any, kwargs: dict[str, Any]) -> None:
    """A valid body of a throwaway operation carries its account's real password."""
    if _negative_body(case):
        return
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        if isinstance(body, dict):
            for name in PASSWORD_FIELDS:
                if isinstance(body.get(name), str):
                    body[name] = THROWAWAY_PASSWORD


def _real_session_id(case: Any) -> None:
    """A session id the schema allows names the throwaway account's own session."""
    session_id = (case.path_parameters or {}).get("session_id")
    token = (case.headers or {}).get("Authorization", "").removeprefix("Bearer ")
    if not isinstance(session_id, str) or not session_id or "/" in session_id:
        return
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return  # a case about a bad token
    case.path_parameters["session_id"] = claims["sid"]


def _real_refresh_token(case: Any, kwargs: dict[str, Any]) -> None:
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        token = body.get("refresh_token") if isinstance(body, dict) else None
        if isinstance(token, str) and "\x00" not in token:
            body["refresh_token"] = throwaway_account()["refresh_token"]


WEBHOOK_URL = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20]+$")


def _as_fuzzer(method: str, path: str) -> Any:
    """A request of the fuzzing user's, under /api/{user_id}; its JSON body, if any."""
    base = os.environ["TODO_FUZZ_BASE_URL"]
    user_id = os.environ["TODO_FUZZ_USER_ID"]
    headers = {"Authorization": f"Bearer {os.environ['TODO_FUZZ_TOKEN']}"}
    r = httpx.request(method, f"{base}/api/{user_id}{path}", headers=headers)
    return r.json() if r.content else None


def _room_for_a_webhook() -> None:
    found = _as_fuzzer("GET", "/webhooks")
    if isinstance(found, list) and len(found) >= 9:
        for webhook in found:
            _as_fuzzer("DELETE", f"/webhooks/{webhook['id']}")


def _real_webhook_url(case: Any, kwargs: dict[str, Any]) -> None:
    for body in (case.body, kwargs.get("json")):  # the case, and the request made from it
        url = body.get("url") if isinstance(body, dict) else None
        if isinstance(url, str) and len(url) <= 2000 and WEBHOOK_URL.match(url):
            body["url"] = "https://hooks.invalid/fuzz"


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path.startswith("/api/{user_id}/webhooks"):
        _real_webhook_url(case, kwargs)
        if case.operation.method.upper() == "POST" and case.operation.path.endswith("webhooks"):
            _room_for_a_webhook()
    if case.operation.path == "/api/auth/password":
        make_valid_passwords_real(case, kwargs)
    if _throwaway_operation(case.operation):
        _real_passwords(case, kwargs)
        _real_session_id(case)
    if case.operation.path == "/api/auth/refresh":
        _real_refresh_token(case, kwargs)
    since = (case.query or {}).get("since")
    if isinstance(since, str) and len(since) <= CURSOR_MAX_CHARS and "\x00" not in since:
        case.query["since"] = real_sync_token()
        if isinstance(kwargs.get("params"), dict):
            kwargs["params"]["since"] = case.query["since"]
    if case.operation.path == "/api/auth/register":
        make_password_violations_real(case, kwargs)
        make_valid_passwords_real(case, kwargs)
    _real_list_ids(case, kwargs)
    if case.operation.path == "/api/{user_id}/lists/{list_id}/move":
        _real_list_after(case, kwargs)
    elif case.operation.path.endswith("/move"):
        _real_after(case, kwargs)
    if case.operation.path == "/api/{user_id}/lists" and case.method.upper() == "POST":
        _room_for_a_list()
    if case.operation.path.endswith(("/tasks", "/tasks/{task_id}")):
        if _negative_body(case):
            _more_reminders_for_real(case, kwargs)
        else:
            _consistent_schedule(case, kwargs)
    if case.operation.path.endswith("/reminders") and not _negative(case, "query"):
        _reminder_window(case, kwargs)
    query = case.query
    if not query or not isinstance(query.get("cursor"), str):
        return
    if len(query["cursor"]) > CURSOR_MAX_CHARS:
        return  # a deliberate violation of the schema: keep it
    sort = query.get("sort", "created")
    order = query.get("order", SORTS.get(sort) if isinstance(sort, str) else None)
    if isinstance(sort, str) and sort in SORTS and order in ("asc", "desc"):
        query["cursor"] = real_cursor(sort, order)
