"""The series of a recurring task agree with python-dateutil, for random rules and due dates:
GET .../occurrences (each next date found from the one before, as completing does) equals the
library's own series with the due date as DTSTART, but for the one place where our rule differs
(todo_api/models/time.py, Rule.following): the due date is always occurrence 1 and COUNT
counts it, UNTIL is compared by date. Checked both on the model and over HTTP."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rrules import rules
from tests.test_schema_rules import Live, live  # noqa: F401 (the server fixture)
from todo_api.models.time import HORIZON, parse_rule

LIMIT = 12


def library_series(rule: str, due: date, limit: int) -> list[str] | None:
    """The next `limit` dates after `due` by dateutil alone, DTSTART = due; None when the rule
    yields no date on or after the due date (within the 400-year horizon)."""
    parts = dict(part.split("=") for part in rule.split(";"))
    count = int(parts.pop("COUNT")) if "COUNT" in parts else None
    until = parts.pop("UNTIL", "99991231")[:8]  # compared by date
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    start = datetime.combine(due, datetime.min.time())
    # Whether it yields a date at all is asked within 400 years per interval (after that,
    # never: the calendar repeats), so that a rule that never matches is answered soon.
    interval = int(parts.get("INTERVAL", "1"))
    period = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}[parts["FREQ"]]
    span = (HORIZON + timedelta(days=period)) * interval
    soon = min(f"{due + span if span < date.max - due else date.max:%Y%m%d}", until)
    if rrulestr(f"{text};UNTIL={soon}", dtstart=start).after(start, inc=True) is None:
        return None
    dates = rrulestr(f"{text};UNTIL={until}", dtstart=start)
    later = (d.date().isoformat() for d in dates if d > start)
    wanted = limit if count is None else min(limit, count - 1)
    return list(itertools.islice(later, max(wanted, 0)))


DUES = st.dates(date(1995, 1, 1), date(2100, 12, 31))
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(rules(), DUES)
def test_the_models_series_is_the_librarys(rule: str, due: date) -> None:
    parsed = parse_rule(rule)
    expected = library_series(rule, due, LIMIT)
    assert parsed.yields_on_or_after(due) == (expected is not None)
    if expected is not None:
        assert [d.isoformat() for d in parsed.upcoming(due, 1, LIMIT)] == expected


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rules(), DUES)
def test_the_services_occurrences_are_the_librarys(live: Live, rule: str, due: date) -> None:  # noqa: F811
    expected = library_series(rule, due, LIMIT)
    body: dict[str, Any] = {"title": "r", "due_date": due.isoformat(), "recurrence": rule.lower()}
    r = live.http.post(f"/api/{live.user_id}/tasks", json=body, headers=live.headers)
    if expected is None:
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "recurrence"]
        return
    assert r.status_code == 201, r.text
    task = r.json()
    url = f"/api/{live.user_id}/tasks/{task['id']}/occurrences"
    got = live.http.get(url, params={"limit": LIMIT}, headers=live.headers)
    assert got.json()["dates"] == expected
    # Completing goes through the same dates, one occurrence at a time.
    for n, day in enumerate(expected[:3], start=2):
        done = live.http.patch(f"{url.rsplit('/', 1)[0]}/complete", headers=live.headers).json()
        assert (done["due_date"], done["occurrence"], done["completed"]) == (day, n, False)


@pytest.mark.parametrize(
    ("rule", "due", "expected"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", date(2026, 12, 8), ["2026-12-14"]),  # the due date is not a Monday
        ("FREQ=DAILY;COUNT=2", date(2026, 12, 8), ["2026-12-09"]),  # COUNT counts the due date
        ("FREQ=DAILY;UNTIL=20261209T000000Z", date(2026, 12, 8), ["2026-12-09"]),  # by date
        ("FREQ=YEARLY", date(2024, 2, 29), ["2028-02-29"]),
        ("FREQ=DAILY", date(9999, 12, 31), []),  # the calendar's end ends the series
    ],
)
def test_where_our_series_differs_from_the_librarys_defaults(
    rule: str, due: date, expected: list[str]
) -> None:
    assert [d.isoformat() for d in parse_rule(rule).upcoming(due, 1, 1)] == expected


def test_a_rule_that_can_never_match_yields_nothing() -> None:
    for rule in ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31"):
        assert not parse_rule(rule).yields_on_or_after(date(2026, 1, 1))
