"""The models and the schema agree: every rule stated both in a pydantic model and in a CHECK or
column type holds the same values on both sides. For any value the model accepts, the API stores
it and reads it back unchanged; for any value the model refuses, the API answers 422 and writes
nothing. Checked against a real PostgreSQL through a real server, with hypothesis generating the
values, plus every ASCII letter and white-space character at both ends of a string.

(Round one's titles starting or ending with a lowercase v got a 500: the CHECK's `\\v` was a
plain `v` in PostgreSQL, and no test sent a value that told the model and the schema apart.)"""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.conftest import PASSWORD, TEST_SECRET, assert_problem
from tests.rrules import rules
from todo_api.models.auth import MeUpdate, RegisterBody
from todo_api.models.common import TIME_ZONES
from todo_api.models.lists import ListCreate
from todo_api.models.tasks import TaskCreate
from todo_api.payloads import validated
from todo_api.problems import Problem
from todo_api.testing import TODO_API, Server

# White space of every kind the engines in play disagree on: Unicode White_Space (what pydantic
# trims), the ASCII separators Python's str.isspace also counts, and two look-alikes neither trims.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1d\x1e\x1f\ufeff\u200b"
)
EDGES = string.ascii_letters + string.digits + WHITE_SPACE + "éßİıﬀΣς€😀\u0301"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text of every kind: letters, white space, combining marks, astral characters, no surrogates.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(EDGES), st.characters(blacklist_categories=("Cs",), min_codepoint=1)
    ),
    max_size=12,
)


@dataclass
class Live:
    """A running server, a user of it, and the database behind it."""

    base: str
    db: psycopg.Connection[Any]
    user_id: str
    headers: dict[str, str]
    http: httpx.Client

    def count(self, sql: str, *args: Any) -> int:
        row = self.db.execute(sql, args).fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture(scope="module")
def live(database_url: str) -> Iterator[Live]:
    env = {"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "LOG_LEVEL": "warning"}
    server = Server(TODO_API, env)
    try:
        server.wait_until_up()
        name = f"r{uuid.uuid4().hex[:12]}"
        body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
        with (
            httpx.Client(base_url=server.base) as http,
            psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as db,
        ):
            r = http.post("/api/auth/register", json=body)
            assert r.status_code == 201, r.text
            data = r.json()
            token = {"Authorization": f"Bearer {data['access_token']}"}
            yield Live(server.base, db, data["user"]["id"], token, http)
    finally:
        server.kill()


def accepted(model: type[BaseModel], body: dict[str, Any]) -> BaseModel | None:
    """The body as the API reads it (NUL scan and model), or None where it refuses it."""
    try:
        return validated(model, body)
    except Problem:
        return None


def check_task_field(
    live: Live,
    field: str,
    value: Any,
    base: dict[str, Any] | None = None,
    shown: Callable[[Any], Any] | None = None,
) -> None:
    """POST a task with `field` set to `value` (and the `base` fields): stored and read back as
    the API reads it (the model, then `shown`, which may refuse with a Problem), or refused with
    a 422 naming the field and nothing stored."""
    body = {"title": "t", **(base or {}), field: value} if field != "title" else {"title": value}
    expected = accepted(TaskCreate, body)
    want = None
    if expected is not None:
        try:
            want = shown(expected) if shown else expected.model_dump(mode="json")[field]
        except Problem:
            expected = None
    tasks = f"/api/{live.user_id}/tasks"
    before = live.count("SELECT count(*) FROM tasks WHERE user_id = %s", live.user_id)
    r = live.http.post(tasks, json=body, headers=live.headers)
    if expected is None:
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["loc"][:2] == ["body", field], problem
        after = live.count("SELECT count(*) FROM tasks WHERE user_id = %s", live.user_id)
        assert after == before
        return
    assert r.status_code == 201, (value, r.text)
    assert r.json()[field] == want
    stored = live.http.get(r.headers["location"], headers=live.headers)
    assert stored.status_code == 200 and stored.json()[field] == want


def check_register(live: Live, field: str, value: str | None) -> None:
    """Register with `field` set to `value`: stored as the model normalises it, or a 422 naming
    the field and no user made."""
    name = f"r{uuid.uuid4().hex[:12]}"
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD, field: value}
    expected = accepted(RegisterBody, body)
    before = live.count("SELECT count(*) FROM users")
    r = live.http.post("/api/auth/register", json=body)
    if expected is None:
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["loc"][:2] == ["body", field], problem
        assert live.count("SELECT count(*) FROM users") == before
        return
    if r.status_code == 409:  # a generated value that someone already took
        return
    assert r.status_code == 201, (value, r.text)
    want = getattr(expected, field)
    assert r.json()["user"][field] == want
    token = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = live.http.get("/api/auth/me", headers=token)
    assert me.status_code == 200 and me.json()[field] == want


def check_list_name(live: Live, name: str) -> None:
    """Create a list named `name`: stored trimmed as the model reads it, or a 422 naming the
    field and no list made. The list is deleted again (a user may have 200)."""
    expected = accepted(ListCreate, {"name": name})
    lists = f"/api/{live.user_id}/lists"
    before = live.count("SELECT count(*) FROM lists WHERE user_id = %s", live.user_id)
    r = live.http.post(lists, json={"name": name}, headers=live.headers)
    if expected is None:
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["loc"][:2] == ["body", "name"], problem
        assert live.count("SELECT count(*) FROM lists WHERE user_id = %s", live.user_id) == before
        return
    if r.status_code == 409:  # a generated name equal to another, ignoring case
        return
    assert r.status_code == 201, (name, r.text)
    assert r.json()["name"] == getattr(expected, "name")
    stored = live.http.get(r.headers["location"], headers=live.headers)
    assert stored.status_code == 200 and stored.json()["name"] == getattr(expected, "name")
    assert live.http.delete(r.headers["location"], headers=live.headers).status_code == 204


EDGE_CASES = [
    f"{c}{middle}{d}"
    for c in EDGES
    for middle, d in (("acuum the house", ""), ("Learn Kie", c), ("x", c))
]


def test_vacuum_the_house_can_be_saved(live: Live) -> None:
    for title in ("vacuum the house", "Learn Kiev", "v", "vv", "\x0bv\x0b"):
        check_task_field(live, "title", title)


def test_titles_with_every_edge_character_at_both_ends(live: Live) -> None:
    for title in EDGE_CASES:
        check_task_field(live, "title", title)


@SETTINGS
@given(
    st.one_of(
        TEXT,
        st.builds(lambda a, b, c: a + b + c, TEXT, st.text(min_size=190, max_size=205), TEXT),
    )
)
def test_any_title_the_model_accepts_is_stored_as_read(live: Live, title: str) -> None:
    check_task_field(live, "title", title)


@SETTINGS
@given(st.one_of(TEXT, st.text(min_size=995, max_size=1005), st.none()))
def test_any_description_the_model_accepts_is_stored_as_given(
    live: Live, description: str | None
) -> None:
    check_task_field(live, "description", description)


@SETTINGS
@given(
    st.one_of(
        TEXT,
        st.from_regex(r"\A[A-Za-z0-9_.\-]{2,33}\Z"),
        st.builds(lambda a, b: a + uuid.uuid4().hex[:8] + b, TEXT, TEXT),
    )
)
def test_any_username_the_model_accepts_is_stored_as_given(live: Live, username: str) -> None:
    check_register(live, "username", username)


@SETTINGS
@given(
    st.one_of(
        st.emails(),
        st.builds(lambda local, domain: f"{local}{uuid.uuid4().hex[:6]}@{domain}", TEXT, TEXT),
        st.builds(
            lambda local: f"{local}{uuid.uuid4().hex[:6]}@example.com",
            st.text(alphabet=EDGES, max_size=12),
        ),
    )
)
def test_any_email_the_model_accepts_is_stored_as_it_normalises_it(live: Live, email: str) -> None:
    check_register(live, "email", email)


@SETTINGS
@given(
    st.one_of(
        TEXT,
        st.none(),
        st.builds(lambda a, b, c: a + b + c, TEXT, st.text(min_size=95, max_size=102), TEXT),
    )
)
def test_any_name_the_model_accepts_is_stored_as_it_trims_it(live: Live, name: str | None) -> None:
    check_register(live, "name", name)


def test_names_with_every_edge_character_at_both_ends(live: Live) -> None:
    for c in EDGES:
        check_register(live, "name", f"{c}Ann{c}")
        check_register(live, "name", c)


def test_a_constraint_the_model_missed_is_a_422_naming_the_field(
    live: Live, database_url: str
) -> None:
    """Simulate a rule only the schema knows: a stricter CHECK added behind the model's back."""
    with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as conn:
        conn.execute(
            "ALTER TABLE tasks ADD CONSTRAINT tasks_description_check1 "
            "CHECK (description IS DISTINCT FROM 'forbidden') NOT VALID"
        )
    try:
        tasks = f"/api/{live.user_id}/tasks"
        body = {"title": "t", "description": "forbidden"}
        r = live.http.post(tasks, json=body, headers=live.headers)
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["loc"] == ["body", "description"]
        assert live.count("SELECT count(*) FROM tasks WHERE description = 'forbidden'") == 0
    finally:
        with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as conn:
            conn.execute("ALTER TABLE tasks DROP CONSTRAINT tasks_description_check1")


@SETTINGS
@given(
    st.one_of(
        st.lists(TEXT, max_size=22),
        st.lists(
            st.sampled_from(["Home", " home ", "HOME", "work", "a,b", "x" * 41, "é" * 40]),
            max_size=22,
        ),
        st.lists(st.text(alphabet=EDGES, min_size=1, max_size=42), min_size=18, max_size=22),
    )
)
def test_any_tags_the_model_accepts_are_stored_as_it_normalises_them(
    live: Live, tags: list[str]
) -> None:
    check_task_field(live, "tags", tags)


@SETTINGS
@given(
    st.one_of(
        st.dates().map(lambda d: d.isoformat()),
        st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-29", "2028-02-29", "0000-12-31"]),
        st.sampled_from(["2026-12-01T10:00:00Z", "tomorrow", "2026-1-1", " 2026-01-01", ""]),
        TEXT,
    )
)
def test_any_due_date_the_model_accepts_is_stored_as_that_day(live: Live, due: str) -> None:
    check_task_field(live, "due_date", due)


@SETTINGS
@given(st.one_of(st.sampled_from(["none", "low", "medium", "high"]), TEXT.map(str.lower), TEXT))
def test_any_priority_the_model_accepts_is_stored_and_only_those(live: Live, priority: str) -> None:
    check_task_field(live, "priority", priority)


def test_list_names_with_every_edge_character_at_both_ends(live: Live) -> None:
    for c in EDGES:
        check_list_name(live, f"{c}Groceries {uuid.uuid4().hex[:8]}{c}")
        check_list_name(live, f"{c}{c}")


# Issue 19's fields: the model and the plan (cross-field rules, todo_api/models/time.py) decide;
# the schema's CHECKs (migration 0008) never refuse what they accept.

DUE = {"due_date": "2026-12-08"}
TIMED = {"due_date": "2026-12-08", "due_time": "09:30"}


def check_schedule_field(live: Live, base: dict[str, Any], field: str, value: Any) -> None:
    """check_task_field for a schedule field: the plan (todo_api/schedules.py) decides
    after the model, as the API does."""
    from todo_api.schedules import plan_create

    def shown(task: Any) -> Any:
        planned = plan_create(task, "UTC")
        if field == "recurrence":
            return planned.schedule.recurrence
        return planned.reminders if field == "reminders" else value

    check_task_field(live, field, value, base, shown)


@SETTINGS
@given(
    st.one_of(
        TEXT,
        st.builds(lambda a, b: a + uuid.uuid4().hex[:8] + b, TEXT, TEXT),
        st.builds(
            lambda a, b, c: a + uuid.uuid4().hex[:8] + b + c,
            TEXT,
            st.text(min_size=85, max_size=95),
            TEXT,
        ),
    )
)
def test_any_list_name_the_model_accepts_is_stored_trimmed(live: Live, name: str) -> None:
    check_list_name(live, name)


@SETTINGS
@given(
    st.one_of(
        st.times().map(lambda t: t.strftime("%H:%M")),
        st.sampled_from(["00:00", "23:59", "24:00", "12:60", "9:30", "09:30:00", "0930"]),
        TEXT,
    )
)
def test_any_due_time_the_rules_accept_is_stored(live: Live, due_time: str) -> None:
    check_schedule_field(live, DUE, "due_time", due_time)
    check_schedule_field(live, {}, "due_time", due_time)  # without a due date: refused


@SETTINGS
@given(st.one_of(st.sampled_from(TIME_ZONES), TEXT, st.sampled_from(["utc", "Europe/paris", ""])))
def test_any_time_zone_the_rules_accept_is_stored(live: Live, zone: str) -> None:
    check_schedule_field(live, TIMED, "time_zone", zone)


@SETTINGS
@given(
    st.one_of(
        rules(),
        rules().map(str.lower),
        rules().map(lambda r: "RRULE:" + r),
        st.builds(lambda r, junk: r + junk, rules(), TEXT),
        TEXT,
    )
)
def test_any_recurrence_the_rules_accept_is_stored(live: Live, rule: str) -> None:
    check_schedule_field(live, DUE, "recurrence", rule)


REMINDER = st.one_of(
    st.builds(lambda n: {"before": n}, st.integers(-3, 40323)),
    st.builds(lambda n: {"before": n}, st.sampled_from([0, 40320, 40321, -1, 1.0, "5", None])),
    st.builds(
        lambda d: {"at": d.isoformat()},
        st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
    ),
    st.builds(lambda t: {"at": t}, TEXT),
    st.just({}),
    st.just({"before": 5, "at": "2026-12-08T09:00:00Z"}),
)


@SETTINGS
@given(st.one_of(st.lists(REMINDER, max_size=7), st.none()))
def test_any_reminders_the_rules_accept_are_stored(live: Live, reminders: Any) -> None:
    check_schedule_field(live, TIMED, "reminders", reminders)
    check_schedule_field(live, DUE, "reminders", reminders)  # before needs a due time


@SETTINGS
@given(st.one_of(st.sampled_from(TIME_ZONES), TEXT))
def test_any_user_time_zone_the_rules_accept_is_stored(live: Live, zone: str) -> None:
    expected = accepted(MeUpdate, {"time_zone": zone})
    r = live.http.patch("/api/auth/me", json={"time_zone": zone}, headers=live.headers)
    if expected is None:
        assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "time_zone"]
        return
    assert r.status_code == 200 and r.json()["time_zone"] == zone
