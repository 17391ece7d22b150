"""A hypothesis strategy for rules of the RRULE subset (tests/test_recurrence.py and
tests/test_schema_rules.py)."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    """A rule of the subset, its parts in a random order."""
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(
            f"INTERVAL={draw(st.one_of(st.integers(1, 5), st.sampled_from([7, 100, 1000])))}"
        )
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            ordinals = draw(
                st.lists(
                    st.sampled_from([-5, -2, -1, 1, 2, 3, 4, 5]),
                    min_size=len(days),
                    max_size=len(days),
                )
            )
            days = [f"{n}{d}" for n, d in zip(ordinals, days, strict=True)]
        parts.append("BYDAY=" + ",".join(days))
    if draw(st.booleans()):
        monthdays = draw(
            st.lists(
                st.sampled_from([1, 2, 15, 28, 29, 30, 31, -1, -2, -31]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        parts.append("BYMONTHDAY=" + ",".join(map(str, monthdays)))
    if draw(st.booleans()):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    end = draw(st.sampled_from(["none", "count", "until"]))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 15))}")
    elif end == "until":
        until = draw(st.dates(date(1990, 1, 1), date(2110, 12, 31)))
        suffix = draw(st.sampled_from(["", "T000000Z", "T235959Z"]))
        parts.append(f"UNTIL={until:%Y%m%d}{suffix}")
    head, *rest = parts
    order = draw(st.permutations(rest))
    position = draw(st.integers(0, len(order)))
    return ";".join([*order[:position], head, *order[position:]])
