"""Time: due times and zones, the instant they make, the RRULE subset of recurring tasks and
their series, and reminders. Pure functions over values (no I/O): zoneinfo reads local times,
python-dateutil's rrule does the rule arithmetic. The one place our series differs from the
library's is `Rule.following` (the due date is always occurrence 1, COUNT counts it, UNTIL is
compared by date); the subset we accept is `parse_rule`."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final, Literal

import orjson
from dateutil import rrule
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from todo_api.models.common import TIME_ZONES, Body, known_zone, whole_number

REMINDERS_MAX: Final = 5
BEFORE_MAX_MINUTES: Final = 40320  # four weeks
INTERVAL_MAX: Final = 1000
COUNT_MAX: Final = 1000
OCCURRENCES_LIMIT_MAX: Final = 100
OCCURRENCES_LIMIT_DEFAULT: Final = 10
REMINDER_WINDOW_DEFAULT: Final = timedelta(days=7)
REMINDER_WINDOW_MAX: Final = timedelta(days=31)
# How many occurrences of a series are planned ahead when its schedule is written (`Ahead`):
# a completion advances by the next of them in SQL; one in AHEAD_MAX plans again in Python.
AHEAD_MAX: Final = 8
# How far ahead a rule's next date is looked for: 400 years per interval, and one interval. The
# Gregorian calendar repeats every 400 years (146,097 days, 20,871 weeks, 4,800 months), so a
# rule stepping `interval` periods repeats its dates within `interval` times that: a rule that
# yields nothing so far yields nothing ever, and no gap in a series is longer. The search then
# walks at most 400 years of periods, so a rule that can never match (BYMONTH=2;BYMONTHDAY=30)
# is answered in bounded time.
HORIZON: Final = timedelta(days=146_097)
# The longest period of each frequency, in days.
_PERIOD_DAYS: Final = {rrule.DAILY: 1, rrule.WEEKLY: 7, rrule.MONTHLY: 31, rrule.YEARLY: 366}

ZONE_SCHEMA: Final = {"type": "string", "enum": list(TIME_ZONES)}
Zone = Annotated[str, BeforeValidator(known_zone), WithJsonSchema(ZONE_SCHEMA)]

DUE_TIME_PATTERN: Final = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"
_DUE_TIME: Final = re.compile(DUE_TIME_PATTERN)


def _due_time(value: Any) -> time:
    if isinstance(value, str) and _DUE_TIME.match(value):
        return time(int(value[:2]), int(value[3:]))
    raise PydanticCustomError("due_time", 'A time "HH:MM", 24-hour, from 00:00 to 23:59')


DueTime = Annotated[
    time,
    BeforeValidator(_due_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DUE_TIME_PATTERN,
            "description": '"HH:MM", 24-hour, 00:00 to 23:59; needs a due_date.',
        }
    ),
]


def show_time(value: time | None) -> str | None:
    """A due time as the API shows it: "HH:MM"."""
    return None if value is None else value.isoformat("minutes")


def due_instant(day: date | None, at: time | None, zone: str) -> datetime | None:
    """`day` at `at` in `zone`, in UTC; None without a time. A local time in a spring-forward
    gap moves forward by the gap's length and an ambiguous one is the first of the two: how
    zoneinfo reads a wall time with fold=0."""
    if day is None or at is None:
        return None
    return due_instants((day,), at, zone)[0]


def due_instants(days: Iterable[date], at: time, zone: str) -> list[datetime]:
    """`due_instant` of each of `days` at `at` in `zone` (the zone looked up once)."""
    tz = zoneinfo.ZoneInfo(zone)
    return [datetime.combine(day, at, tz).astimezone(UTC) for day in days]


def today_in(zone: str, now: datetime) -> date:
    return now.astimezone(zoneinfo.ZoneInfo(zone)).date()


# The RRULE subset. Each part's value, as a pattern of the whole value.
FREQUENCIES: Final = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NUMBER = r"[1-9][0-9]*"
_PARTS: Final = {
    "FREQ": re.compile("|".join(FREQUENCIES)),
    "INTERVAL": re.compile(_NUMBER),
    "BYDAY": re.compile(
        rf"(?:[+-]?[1-5])?(?:{'|'.join(WEEKDAYS)})(?:,(?:[+-]?[1-5])?(?:{'|'.join(WEEKDAYS)}))*"
    ),
    "BYMONTHDAY": re.compile(r"-?[1-9][0-9]?(?:,-?[1-9][0-9]?)*"),
    "BYMONTH": re.compile(r"[1-9][0-9]?(?:,[1-9][0-9]?)*"),
    "COUNT": re.compile(_NUMBER),
    "UNTIL": re.compile(r"([0-9]{8})(?:T([0-9]{6})Z)?"),
}
RECURRENCE_DESCRIPTION: Final = (
    "An RFC 5545 RRULE value (a leading RRULE: is dropped; case-insensitive; returned "
    "upper-cased, parts in the order given). Parts: FREQ (DAILY, WEEKLY, MONTHLY, YEARLY; "
    "required), INTERVAL (1 to 1000), BYDAY (MO..SU, with an ordinal -5..-1 or 1..5 only under "
    "MONTHLY or YEARLY; not mixing plain days and ordinals), BYMONTHDAY (-31..-1, 1..31), "
    "BYMONTH (1..12), COUNT (1 to 1000, the due date counting as the first) or UNTIL "
    "(YYYYMMDD or YYYYMMDDTHHMMSSZ, compared by date), not both; each part at most once. "
    "Needs a due_date; a rule that yields no date on or after it is refused."
)


Frequency = Literal[0, 1, 2, 3, 4, 5, 6]  # dateutil's YEARLY .. SECONDLY


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("recurrence", message)


@dataclass(frozen=True)
class Rule:
    """An accepted rule: its text as stored and the dateutil arguments of its pattern (COUNT
    and UNTIL kept apart: we count and compare them ourselves)."""

    text: str
    freq: Frequency
    interval: int
    byweekday: tuple[rrule.weekday, ...] | None
    bymonthday: tuple[int, ...] | None
    bymonth: tuple[int, ...] | None
    count: int | None
    until: date | None

    def __hash__(self) -> int:  # the text determines the rest: hashed often, as a cache key
        return hash(self.text)

    def _dates(self, start: date, until: date) -> rrule.rrule:
        """The library's dates of this pattern with `start` as DTSTART, up to `until` (no
        COUNT: the series counts its occurrences itself)."""
        return rrule.rrule(
            self.freq,
            dtstart=datetime.combine(start, time()),
            interval=self.interval,
            byweekday=self.byweekday,
            bymonthday=self.bymonthday,
            bymonth=self.bymonth,
            until=datetime.combine(until, time()),
            cache=False,
        )

    def _end(self, start: date) -> date:
        """The last date a search from `start` looks at: UNTIL, or the horizon."""
        span = (HORIZON + timedelta(days=_PERIOD_DAYS[self.freq])) * self.interval
        horizon = start + span if span < date.max - start else date.max
        return horizon if self.until is None else min(self.until, horizon)

    def yields_on_or_after(self, start: date) -> bool:
        """Whether the rule, started at `start`, yields a date on or after it (UNTIL heeded)."""
        return _first_date(self, start, inclusive=True) is not None

    def following(
        self, current: date, occurrence: int, *, today: date | None = None
    ) -> date | None:
        """The date of occurrence `occurrence + 1` of a series standing at `current`
        (occurrence `occurrence`): the first date the rule yields after it, as RFC 5545 with
        `current` as DTSTART; with `today` (recurrence_basis "completion"), the first it yields
        after today, intervals counted from today. None when COUNT or UNTIL ends the series.
        (A series' later dates are dates the rule yields, so each lies in one of the rule's
        periods and starting from it keeps the periods of the series' first date.)"""
        if self.count is not None and occurrence >= self.count:
            return None
        return _first_date(self, current if today is None else today, inclusive=False)

    def upcoming(self, current: date, occurrence: int, limit: int) -> list[date]:
        """The next `limit` due dates after `current`, as if each were completed on its date."""
        return list(_upcoming(self, current, occurrence, limit))


@functools.lru_cache(maxsize=4096)
def _upcoming(rule: Rule, current: date, occurrence: int, limit: int) -> tuple[date, ...]:
    """`Rule.upcoming`: the dates `following` gives one after another, found in one walk of the
    library's rule from `current` as DTSTART (each date it yields keeps the periods of the one
    before, so the walk and the steps agree), cut by COUNT; a walk that reaches the search's
    horizon (dates centuries apart) goes on one step at a time. (Cached as `_first_date`.)"""
    wanted = limit if rule.count is None else max(0, min(limit, rule.count - occurrence))
    dates: list[date] = []
    end = rule._end(current)
    try:
        for found in rule._dates(current, end) if wanted else ():
            if (day := found.date()) > current:
                dates.append(day)
                if len(dates) == wanted:
                    break
    except (OverflowError, ValueError):  # past 9999-12-31: the series ends
        return tuple(dates)
    if rule.until is not None and end == rule.until:
        return tuple(dates)
    while len(dates) < wanted:
        following = rule.following(dates[-1] if dates else current, occurrence + len(dates))
        if following is None:
            break
        dates.append(following)
    return tuple(dates)


@functools.lru_cache(maxsize=4096)
def _first_date(rule: Rule, start: date, *, inclusive: bool) -> date | None:
    """The first date `rule` yields from `start` as DTSTART (on or after it, or after it),
    within the horizon and UNTIL; None when there is none. (Cached: many tasks share a rule
    and a due date, and building the library's rule is the costly part.)"""
    try:
        found = rule._dates(start, rule._end(start)).after(
            datetime.combine(start, time()), inc=inclusive
        )
    except (OverflowError, ValueError):  # past 9999-12-31
        return None
    return None if found is None else found.date()


_FREQ: Final[dict[str, Frequency]] = {
    "DAILY": rrule.DAILY,
    "WEEKLY": rrule.WEEKLY,
    "MONTHLY": rrule.MONTHLY,
    "YEARLY": rrule.YEARLY,
}
_WEEKDAY: Final = dict(zip(WEEKDAYS, rrule.weekdays, strict=True))


@functools.lru_cache(maxsize=1024)
def parse_rule(value: str) -> Rule:
    """The accepted rule of `value`, or a PydanticCustomError saying which part is wrong."""
    text = value.upper()
    if text.startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, part_value = part.partition("=")
        if not equals or name not in _PARTS:
            raise _refuse(f"Not a supported part: {part!r}")
        if name in parts:
            raise _refuse(f"{name} is given twice")
        if not _PARTS[name].fullmatch(part_value):
            raise _refuse(f"{name}={part_value} is not a valid value")
        parts[name] = part_value
    if "FREQ" not in parts:
        raise _refuse("FREQ is required")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _refuse("COUNT and UNTIL cannot both be given")
    freq = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    if interval > INTERVAL_MAX:
        raise _refuse(f"INTERVAL is 1 to {INTERVAL_MAX}")
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    if count is not None and count > COUNT_MAX:
        raise _refuse(f"COUNT is 1 to {COUNT_MAX}")
    return Rule(
        text=text,
        freq=_FREQ[freq],
        interval=interval,
        byweekday=_weekdays(parts["BYDAY"], freq) if "BYDAY" in parts else None,
        bymonthday=_numbers(parts, "BYMONTHDAY", 31, negative=True),
        bymonth=_numbers(parts, "BYMONTH", 12, negative=False),
        count=count,
        until=_until(parts["UNTIL"]) if "UNTIL" in parts else None,
    )


def _weekdays(value: str, freq: str) -> tuple[rrule.weekday, ...]:
    days = []
    for item in value.split(","):
        ordinal, name = item[:-2], item[-2:]
        days.append(_WEEKDAY[name](int(ordinal)) if ordinal else _WEEKDAY[name])
    ordinals = {item[:-2] != "" for item in value.split(",")}
    if True in ordinals and freq not in ("MONTHLY", "YEARLY"):
        raise _refuse("A BYDAY ordinal (such as 1MO) needs FREQ=MONTHLY or YEARLY")
    if len(ordinals) > 1:
        raise _refuse("BYDAY mixes plain weekdays and ordinals")
    return tuple(days)


def _numbers(
    parts: dict[str, str], name: str, high: int, *, negative: bool
) -> tuple[int, ...] | None:
    if name not in parts:
        return None
    numbers = tuple(int(item) for item in parts[name].split(","))
    if any(not 1 <= abs(n) <= high for n in numbers):
        span = f"-{high}..-1, 1..{high}" if negative else f"1..{high}"
        raise _refuse(f"{name} values are {span}")
    return numbers


def _until(value: str) -> date:
    match = _PARTS["UNTIL"].fullmatch(value)
    assert match is not None
    day, clock = match.groups()
    try:
        until = datetime.strptime(day + (clock or "000000"), "%Y%m%d%H%M%S")
    except ValueError:
        raise _refuse(f"UNTIL={value} is not a valid date") from None
    return until.date()


def _recurrence(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return parse_rule(value).text


Recurrence = Annotated[
    str,
    BeforeValidator(_recurrence),
    WithJsonSchema(
        {
            "type": "string",
            "format": "rrule",
            "pattern": "^(?:[Rr][Rr][Uu][Ll][Ee]:)?[A-Za-z]+=[^;]+(?:;[A-Za-z]+=[^;]+)*$",
            "description": RECURRENCE_DESCRIPTION,
        }
    ),
]
RecurrenceBasis = Literal["due", "completion"]


def instant(value: Any) -> datetime:
    """An RFC 3339 instant with an offset (Z or +hh:mm), in UTC; more than microseconds are
    cut, a leap second is the second after."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        head, seconds, fraction, offset = match.groups()
        try:
            text = f"{head}:{min(int(seconds), 59):02d}{(fraction or '')[:7]}{offset.upper()}"
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            leap = timedelta(seconds=1) if seconds == "60" else timedelta()
            return (parsed + leap).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise PydanticCustomError("instant", "An RFC 3339 date-time with an offset")


_RFC3339: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
Instant = Annotated[
    datetime,
    BeforeValidator(instant),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ReminderIn(Body):
    """One reminder as sent: minutes `before` the due instant, or an instant `at`."""

    before: (
        Annotated[int, BeforeValidator(whole_number), Field(ge=0, le=BEFORE_MAX_MINUTES)] | None
    ) = None
    at: Instant | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ReminderIn:
        if (self.before is None) == (self.at is None):
            raise PydanticCustomError("reminder", 'A reminder has exactly one of "before" and "at"')
        return self

    @property
    def key(self) -> tuple[str, int | datetime]:
        return ("before", self.before) if self.before is not None else ("at", self.at)  # type: ignore[return-value]


REMINDER_SCHEMA: Final = {
    "oneOf": [
        {
            "type": "object",
            "required": ["before"],
            "properties": {
                "before": {"type": "integer", "minimum": 0, "maximum": BEFORE_MAX_MINUTES}
            },
            "not": {"required": ["at"]},
            "description": "Minutes before due_at (needs a due_time); follows each occurrence.",
        },
        {
            "type": "object",
            "required": ["at"],
            "properties": {"at": {"type": "string", "format": "date-time"}},
            "not": {"required": ["before"]},
            "description": "An RFC 3339 instant with an offset; fires once (a past one never).",
        },
    ]
}


REMINDER_FIELDS: Final = ("before", "at")


def known_reminder_fields(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """The body with only the fields a reminder reads in each reminder object: others (the
    read-only fires_at of a task sent back, unknown ones) are ignored, as in a task."""
    reminders = body.get("reminders") if body is not None else None
    if body is None or not isinstance(reminders, list):
        return body
    kept = [
        {k: v for k, v in r.items() if k in REMINDER_FIELDS} if isinstance(r, dict) else r
        for r in reminders
    ]
    return {**body, "reminders": kept}


def merged_reminders(reminders: list[ReminderIn]) -> list[ReminderIn]:
    """Equal entries merged, the order given kept; at most five after merging."""
    merged = list({r.key: r for r in reminders}.values())
    if len(merged) > REMINDERS_MAX:
        raise PydanticCustomError(
            "too_many_reminders", "At most {high} reminders", {"high": REMINDERS_MAX}
        )
    return merged


def stamp(value: datetime) -> str:
    """An instant as every response shows one: RFC 3339 in UTC with Z."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def reminder_entries(reminders: list[ReminderIn], due_at: datetime | None) -> list[dict[str, Any]]:
    """The reminders as stored and shown, each with its fires_at (before: from `due_at`)."""
    entries: list[dict[str, Any]] = []
    for reminder in reminders:
        if reminder.before is not None:
            assert due_at is not None
            fires = due_at - timedelta(minutes=reminder.before)
            entries.append({"before": reminder.before, "fires_at": stamp(fires)})
        else:
            assert reminder.at is not None
            entries.append({"at": stamp(reminder.at), "fires_at": stamp(reminder.at)})
    return entries


def stored_reminders(entries: list[dict[str, Any]]) -> list[ReminderIn]:
    """The reminders a task holds, read back from its stored entries."""
    return [ReminderIn.model_validate(e) for e in entries]


# The fields of a task this module plans, as a PUT or a create gives them.
SCHEDULE_FIELDS: Final = (
    "due_date",
    "due_time",
    "time_zone",
    "recurrence",
    "recurrence_basis",
    "reminders",
)


class Refused(Exception):
    """A combination of fields that breaks a rule: a 422 naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Schedule:
    """When a task is due, how it recurs and where its series stands, and its reminders."""

    due_date: date | None = None
    due_time: time | None = None
    time_zone: str | None = None
    recurrence: str | None = None
    recurrence_basis: str = "due"
    occurrence: int = 1
    reminders: tuple[ReminderIn, ...] = ()


@dataclass(frozen=True)
class Ahead:
    """The occurrences of a series after its current one, planned ahead: their due dates, their
    due_at (None without a due time) in `zone` (None without a due time), and whether the
    series ends after the last of them (COUNT or UNTIL). Completing the task advances to
    dates[0] and due_ats[0], occurrence + 1, each "before" reminder's fires_at that due_at less
    its minutes (`reminder_entries`), as `plan` would: sql/task_set_completed.sql does it."""

    dates: list[date]
    due_ats: Sequence[datetime | None] | None
    zone: str | None
    ends: bool


def series_ahead(schedule: Schedule, zone: str, limit: int = AHEAD_MAX) -> Ahead | None:
    """The next `limit` occurrences of the series of `schedule` (due_at in `zone`), each as
    `plan` would advance to it; None for a task that does not recur, or recurs on basis
    "completion" (its next date depends on the day it is completed)."""
    if schedule.recurrence is None or schedule.recurrence_basis != "due":
        return None
    assert schedule.due_date is not None
    rule = parse_rule(schedule.recurrence)
    dates = rule.upcoming(schedule.due_date, schedule.occurrence, limit)
    if schedule.due_time is None:
        return Ahead(dates, None, None, len(dates) < limit)
    due_ats = due_instants(dates, schedule.due_time, zone)
    return Ahead(dates, due_ats, zone, len(dates) < limit)


@dataclass(frozen=True)
class Planned:
    """A task's schedule after a write, with what follows from it: due_at, the reminders with
    their fires_at, whether it ends completed, whether the series advanced, and the series'
    next occurrences planned ahead."""

    schedule: Schedule
    due_at: datetime | None
    reminders: list[dict[str, Any]]
    completed: bool
    advanced: bool
    ahead: Ahead | None = None


def plan(
    current: Schedule,
    given: dict[str, Any],
    *,
    was_completed: bool,
    completed: bool,
    owner_zone: str,
    now: datetime,
) -> Planned:
    """Apply the given schedule fields to `current` (a new task: Schedule()), then completion:
    a pending recurring task asked to complete advances to its next occurrence if it has one.
    Refused when the result breaks a rule (the field named is the one the request gave)."""
    due_date = given.get("due_date", current.due_date)
    due_time = given.get("due_time", None if due_date is None else current.due_time)
    if due_time is not None and due_date is None:
        raise Refused("due_time", "A due_time needs a due_date")
    time_zone = given.get("time_zone", current.time_zone)
    recurrence = given.get("recurrence", current.recurrence)
    if recurrence is not None and due_date is None:
        field = "recurrence" if "recurrence" in given else "due_date"
        raise Refused(field, "A recurring task needs a due_date")
    restart = given.get("recurrence") is not None or due_date != current.due_date
    occurrence = 1 if restart or recurrence is None else current.occurrence
    rule = None if recurrence is None else parse_rule(recurrence)
    if rule is not None and ("recurrence" in given or "due_date" in given):
        assert due_date is not None
        if not rule.yields_on_or_after(due_date):
            raise Refused("recurrence", "The rule yields no date on or after the due date")
    reminders = tuple(given.get("reminders", current.reminders))
    if due_time is None and any(r.before is not None for r in reminders):
        field = next(f for f in ("reminders", "due_time", "due_date") if f in given)
        raise Refused(field, 'A "before" reminder needs a due_time')
    zone = time_zone or owner_zone
    advanced = False
    if completed and not was_completed and rule is not None:
        assert due_date is not None
        today = (
            today_in(zone, now)
            if given.get("recurrence_basis", current.recurrence_basis) == "completion"
            else None
        )
        following = rule.following(due_date, occurrence, today=today)
        if following is not None:
            due_date, occurrence, completed, advanced = following, occurrence + 1, False, True
    schedule = Schedule(
        due_date=due_date,
        due_time=due_time,
        time_zone=time_zone,
        recurrence=recurrence,
        recurrence_basis=given.get("recurrence_basis", current.recurrence_basis),
        occurrence=occurrence,
        reminders=reminders,
    )
    due_at = due_instant(due_date, due_time, zone)
    entries = reminder_entries(list(reminders), due_at)
    return Planned(schedule, due_at, entries, completed, advanced, series_ahead(schedule, zone))


def schedule_of(row: Any) -> Schedule:
    """A stored task's schedule."""
    return Schedule(
        due_date=row["due_date"],
        due_time=row["due_time"],
        time_zone=row["time_zone"],
        recurrence=row["recurrence"],
        recurrence_basis=row["recurrence_basis"],
        occurrence=row["occurrence"],
        reminders=tuple(stored_reminders(orjson.loads(row["reminders"]))),
    )


class OccurrencesOut(BaseModel):
    dates: list[date] = Field(description="The next due dates, earliest first.")


class ReminderDue(BaseModel):
    """A reminder that will fire in the window asked for."""

    task_id: int
    title: str
    fires_at: datetime
    due_at: datetime | None
