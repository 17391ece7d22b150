"""Tasks: one async function per query in sql/task*.sql. Every query is scoped by the caller's
user_id in SQL and returns nothing unless the caller rule (sql/_caller.sql) lets them act.

The list query is one statement shape (sql/templates/tasks_page.sql) rendered at import for
each sort order from SORTS, a fixed table of sort keys: only the identifiers and keywords in
that table ever become SQL text; filter values and cursors always travel as parameters."""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final, Literal

import asyncpg

from todo_api.caller import Caller
from todo_api.cursors import CursorKey, KeyType
from todo_api.db.pool import Runner
from todo_api.db.queries import Query, query, render
from todo_api.db.users import UserStatus, status_of

TASK_INSERT = query("task_insert")
TASK_GET = query("task_get")
TASK_UPDATE = query("task_update")
TASK_SET_COMPLETED = query("task_set_completed")
TASK_DELETE = query("task_delete")
TASK_MOVE = query("task_move")
TASKS_CLEAR_COMPLETED = query("tasks_clear_completed")
TASKS_TAGS = query("tasks_tags")
TASKS_OVERVIEW = query("tasks_overview")
TASK_OWNER_ZONE = query("task_owner_zone")
TASKS_ZONELESS = query("tasks_zoneless")
TASKS_REZONE = query("tasks_rezone")

Order = Literal["asc", "desc"]
ORDERS: Final[tuple[Order, ...]] = ("asc", "desc")


@dataclass(frozen=True)
class SortKey:
    """How one sort order orders tasks. A cursor carries the last row's value of `column`; the
    statement compares rows by `expression` over that column (then by id, unless the key is
    unique within a list and a list is named: `unique`). `nulls_last`: rows without a value
    come last in both directions (the key is the value or +/-infinity, so the index on that
    expression serves either order)."""

    column: str
    key_type: KeyType
    sql_type: str
    default_order: Order
    expression: str = "{}"
    nulls_last: bool = False
    unique: bool = False
    then: SortKey | None = None  # orders rows with equal values of this key (cursor: after_then)

    def key(self, value: str, order: Order) -> str:
        """The sort key over the SQL expression `value` (a column or the cursor's parameter)."""
        key = self.expression.format(value)
        if self.nulls_last:
            infinity = "infinity" if order == "asc" else "-infinity"
            key = f"COALESCE({key}, '{infinity}'::{self.sql_type})"
        return key


# The sort orders of GET /api/{user_id}/tasks; each has an index starting (user_id, key, ...),
# and position and created (the default) one starting (user_id, list_id, key) as well, for a
# named list (migrations/0007, 0015); within a list the others walk the user's index.
SORTS: Final = {
    "created": SortKey("created_at", KeyType.TIMESTAMP, "timestamptz", "desc"),
    "updated": SortKey("updated_at", KeyType.TIMESTAMP, "timestamptz", "desc"),
    "title": SortKey("title", KeyType.TEXT, "text", "asc", expression="lower({})"),
    # By date, then by due_at within a date, tasks without a time after those with one.
    "due": SortKey(
        "due_date",
        KeyType.DUE,
        "date",
        "asc",
        nulls_last=True,
        then=SortKey("due_at", KeyType.TIMESTAMP, "timestamptz", "asc", nulls_last=True),
    ),
    "priority": SortKey("priority", KeyType.TEXT, "task_priority", "desc"),
    "position": SortKey("position", KeyType.TEXT, "text", "asc", unique=True),
}


# pg_trgm takes trigrams from runs of letters and digits (of the database's locale: ASCII ones
# are letters and digits in every locale).
_TRIGRAM = re.compile(r"[A-Za-z0-9]{3}")


# `q`: the title or the description holds the text, case-insensitively (:pattern is a LIKE
# pattern). Two spellings of one condition (PostgreSQL's ILIKE lower-cases both sides with
# lower() in a multi-byte encoding, then matches): ILIKE, which the trigram indexes
# (migrations/0006) serve, for text with a trigram in it; and lower() LIKE lower(), which no
# index serves, for text with none ("ab", "a b"), where a trigram index could only be read
# whole. Without `q`, no condition at all: a generic plan keeps its index-only scans.
class Search(enum.Enum):
    NONE = "true"
    TRIGRAMS = "(t.title ILIKE :pattern::text OR t.description ILIKE :pattern::text)"
    SCAN = (
        "(lower(t.title) LIKE lower(:pattern::text)"
        " OR lower(t.description) LIKE lower(:pattern::text))"
    )

    @classmethod
    def of(cls, text: str | None) -> Search:
        """The spelling for a search for `text` (None or empty: no search)."""
        if not text:
            return cls.NONE
        return cls.TRIGRAMS if _TRIGRAM.search(text) else cls.SCAN


def _page_query(
    sort: str, order: Order, after_cursor: bool, search: Search, in_list: bool
) -> Query:
    spec = SORTS[sort]
    row = [spec.key(f"t.{spec.column}", order)]
    after = [spec.key(f":after_key::text::{spec.sql_type}", order)]
    if spec.then is not None:
        row.append(spec.then.key(f"t.{spec.then.column}", order))
        after.append(spec.then.key(f":after_then::text::{spec.then.sql_type}", order))
    if not (spec.unique and in_list):
        row.append("t.id")
        after.append(":after_id::bigint")
    operator = ">" if order == "asc" else "<"
    keyset = f"({', '.join(row)}) {operator} ({', '.join(after)})" if after_cursor else "true"
    name = f"tasks_page_{sort}_{order}{'_after' if after_cursor else ''}"
    return render(
        "tasks_page",
        f"{name}_{search.name.lower()}{'_in_list' if in_list else ''}",
        {
            "in_list": "t.list_id = :list_id::bigint" if in_list else "true",
            "keyset": keyset,
            "order_by": ", ".join(f"{k} {order.upper()}" for k in row),
            "search": search.value,
            "materialized": "NOT MATERIALIZED" if search is Search.NONE else "MATERIALIZED",
        },
    )


# Per sort and order: the first page's statement and the one for a page after a cursor; each
# with each spelling of the search, and with and without a list named.
PAGES: Final = {
    (sort, order, after_cursor, search, in_list): _page_query(
        sort, order, after_cursor, search, in_list
    )
    for sort in SORTS
    for order in ORDERS
    for after_cursor in (False, True)
    for search in Search
    for in_list in (False, True)
}


@dataclass(frozen=True)
class Schedule:
    """A task's schedule as planned (todo_api/models/time.py): the values its statements
    store, the owner's zone the plan used, and the version of the row it was planned from."""

    due_time: time | None = None
    time_zone: str | None = None
    due_at: datetime | None = None
    recurrence: str | None = None
    recurrence_basis: str = "due"
    occurrence: int = 1
    reminders: str = "[]"  # the JSON array, as stored
    owner_zone: str | None = None
    based_on: int | None = None
    advanced: bool = False
    # The series' next occurrences planned ahead (migrations/0014; None: none planned).
    ahead_dates: Sequence[date] | None = None
    ahead_due_at: Sequence[datetime | None] | None = None
    ahead_zone: str | None = None
    ahead_ends: bool | None = None
    # Planned without reading the row (based_on None), as a task without a schedule: the
    # schedule fields the write gave; the others must be as such a task has them.
    given: Sequence[str] | None = None

    @property
    def params(self) -> dict[str, Any]:
        dates = None if self.ahead_dates is None else _array(map(_day, self.ahead_dates))
        due_ats = None if self.ahead_due_at is None else _array(map(_day, self.ahead_due_at))
        return {
            "due_time": self.due_time,
            "time_zone": self.time_zone,
            "due_at": self.due_at,
            "recurrence": self.recurrence,
            "recurrence_basis": self.recurrence_basis,
            "occurrence": self.occurrence,
            "reminders": self.reminders,
            "owner_zone": self.owner_zone,
            "based_on": self.based_on,
            "advanced": self.advanced,
            "ahead_dates": dates,
            "ahead_due_at": due_ats,
            "ahead_zone": self.ahead_zone,
            "ahead_ends": self.ahead_ends,
            "given": None if self.given is None else list(self.given),
        }


NO_SCHEDULE: Final = Schedule()


class _Unset:
    """Marks a field a PUT did not give, as opposed to one given as null."""


UNSET: Final = _Unset()


class MoveRefused(Exception):
    """`after` names the moved task itself, or no task of the caller's (in the target list)."""


class ListNotFound(Exception):
    """A task's `list_id` names no list of the caller's (the composite foreign key
    tasks_list_fkey, or task_move_position, said so)."""


LIST_FOREIGN_KEY: Final = "tasks_list_fkey"


@contextlib.contextmanager
def _list_checked() -> Iterator[None]:
    """ListNotFound for a write refused because its list is not one of the caller's."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.constraint_name != LIST_FOREIGN_KEY:
            raise
        raise ListNotFound from None


# Where the count of a list filtered by `q`, `due_before`, `due_after` or `overdue` stops
# (docs/api.md, "`GET /api/{user_id}/tasks`"): such a count reads every match, and past
# this many a client learns no more from the exact figure than from "10,000 or more".
COUNT_LIMIT: Final = 10_000


@dataclass(frozen=True)
class Page:
    owner: UserStatus
    list_known: bool  # the list named is one of the caller's (or none was named)
    total: int
    rows: list[asyncpg.Record]
    has_more: bool
    exact: bool = True  # False: more than `total` (COUNT_LIMIT) rows match


@dataclass(frozen=True)
class Filters:
    """What a list keeps; None (or empty) keeps everything."""

    completed: bool | None = None
    list_id: int | None = None
    search: str | None = None
    tags: Sequence[str] = ()
    priorities: Sequence[str] = ()
    due_after: date | None = None
    due_before: date | None = None
    overdue: bool | None = None
    today: date | None = None  # the caller's today, for `overdue`
    now: datetime | None = None  # the instant `overdue` compares due_at with

    @property
    def counted(self) -> bool:
        """Whether task_counts holds the number of matches: at most `completed` and one tag, or
        `completed` and the list."""
        return (
            not self.search
            and len(self.tags) <= (0 if self.list_id is not None else 1)
            and not self.priorities
            and self.due_after is None
            and self.due_before is None
            and self.overdue is None
        )

    @property
    def only_overdue(self) -> bool:
        """Whether the list keeps just the overdue tasks (overdue=true, and at most
        status=pending, which it implies; no list): counted from an index alone (migrations/0011).
        """
        return (
            self.overdue is True
            and self.list_id is None
            and self.completed is not True
            and not self.search
            and not self.tags
            and not self.priorities
            and self.due_after is None
            and self.due_before is None
        )

    @property
    def bounded(self) -> bool:
        """Whether the count may stop at COUNT_LIMIT: filtered by `q`, a due date or `overdue`."""
        return (
            bool(self.search)
            or self.due_after is not None
            or self.due_before is not None
            or self.overdue is not None
        )


def like_pattern(text: str) -> str:
    """A LIKE pattern that matches `text` literally anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _day(value: date | None) -> str | None:
    """A date (or an instant) as the statements take it: ISO text (asyncpg sends 9999-12-31 as
    infinity)."""
    return None if value is None else value.isoformat()


def _array(items: Iterable[str | None]) -> str:
    """Dates or instants (ISO text, which needs no quoting) as one PostgreSQL array literal, as
    the statements take the series planned ahead (`::text::date[]`): asyncpg's encoding of an
    array parameter cost about 4 us an element in the writes' client CPU, this and the
    server's reading of it less than one (measured interleaved: a recurring create's statement
    251 -> 214 us)."""
    return "{" + ",".join("NULL" if item is None else item for item in items) + "}"


async def insert_task(
    db: Runner,
    caller: Caller,
    title: str,
    description: str | None,
    completed: bool,
    due_date: date | None = None,
    priority: str = "none",
    tags: Sequence[str] = (),
    list_id: int | None = None,
    schedule: Schedule | None = None,
) -> asyncpg.Record | None:
    """Create a task in list `list_id` (None: the default list; ListNotFound when that is not
    one of the caller's lists); with a `schedule`, its due time, zone, recurrence and
    reminders, whose due_at was computed in the zone `schedule.owner_zone` (None when it did not
    need the owner's zone): None when the owner's zone is another (or the caller may not act)."""
    statement = TASK_INSERT(
        **caller.params,
        title=title,
        description=description,
        completed=completed,
        due_date=_day(due_date),
        priority=priority,
        tags=list(tags),
        list_id=list_id,
        **(schedule or NO_SCHEDULE).params,
    )
    with _list_checked():
        return await db.fetchrow(*statement, retry=False)


async def get_task(db: Runner, caller: Caller, task_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(*TASK_GET(**caller.params, task_id=task_id))


async def update_task(
    db: Runner,
    caller: Caller,
    task_id: int,
    *,
    title: str | _Unset = UNSET,
    description: str | _Unset | None = UNSET,
    completed: bool | None = None,
    due_date: date | _Unset | None = UNSET,
    priority: str | None = None,
    tags: Sequence[str] | None = None,
    list_id: int | None = None,
    schedule: Schedule | None = None,
    if_match: Sequence[int] | None = None,
) -> asyncpg.Record | None:
    """Change the given fields in one statement; completed, priority, tags or list_id None
    leaves it (ListNotFound when `list_id` is not one of the caller's lists). With `if_match`,
    only a task at one of those versions is changed (else None). Without a `schedule`, the
    schedule stays and a pending recurring task is not completed (None); with one (planned from
    the row at `schedule.based_on` in the owner's zone `schedule.owner_zone`), None when the row
    or the zone is no longer what it was planned from."""
    statement = TASK_UPDATE(
        **caller.params,
        task_id=task_id,
        if_match=_versions(if_match),
        set_title=not isinstance(title, _Unset),
        title=None if isinstance(title, _Unset) else title,
        set_description=not isinstance(description, _Unset),
        description=None if isinstance(description, _Unset) else description,
        completed=completed,
        set_due_date=not isinstance(due_date, _Unset),
        due_date=None if isinstance(due_date, _Unset) else _day(due_date),
        priority=priority,
        tags=None if tags is None else list(tags),
        list_id=list_id,
        set_schedule=schedule is not None,
        **(schedule or NO_SCHEDULE).params,
    )
    # Repeating a PUT that ran is harmless, unless it was conditional: its If-Match would fail;
    # or planned from a version (it would be planned again: a recurring task advanced twice).
    with _list_checked():
        return await db.fetchrow(*statement, retry=if_match is None and schedule is None)


async def owner_zone(db: Runner, caller: Caller) -> str | None:
    """The caller's time zone; None when they may not act."""
    row = await db.fetchrow(*TASK_OWNER_ZONE(**caller.params))
    return None if row is None else str(row["time_zone"])


def _versions(if_match: Sequence[int] | None) -> list[int] | None:
    return None if if_match is None else list(if_match)


async def set_completed(
    db: Runner,
    caller: Caller,
    task_id: int,
    completed: bool | None,
    *,
    if_match: Sequence[int] | None = None,
) -> asyncpg.Record | None:
    """Set completed, or flip it when `completed` is None. A pending recurring task that this
    would complete advances its series instead, to the next occurrence planned ahead; with
    none planned ahead it is left alone and returned as it stands, with `to_plan` true (and
    its owner's zone): the caller plans the advance. Only setting false is safe to repeat (a
    flip is not, and completing may advance a series)."""
    statement = TASK_SET_COMPLETED(
        **caller.params, task_id=task_id, completed=completed, if_match=_versions(if_match)
    )
    return await db.fetchrow(*statement, retry=completed is False and if_match is None)


async def move_task(
    db: Runner,
    caller: Caller,
    task_id: int,
    after_id: int | None,
    *,
    list_id: int | None = None,
    if_match: Sequence[int] | None = None,
) -> asyncpg.Record | None:
    """Put the task into list `list_id` (None: its own) right after task `after_id` (None: on
    top). None when there is no such task (or the caller may not act); MoveRefused when
    `after_id` is itself or not a task of that list; ListNotFound when `list_id` is not one of
    the caller's lists."""
    statement = TASK_MOVE(
        **caller.params,
        task_id=task_id,
        after_id=after_id,
        list_id=list_id,
        if_match=_versions(if_match),
    )
    try:
        with _list_checked():
            return await db.fetchrow(*statement, retry=if_match is None)
    except asyncpg.NoDataFoundError:
        raise MoveRefused from None


async def delete_task(
    db: Runner, caller: Caller, task_id: int, *, if_match: Sequence[int] | None = None
) -> bool:
    statement = TASK_DELETE(**caller.params, task_id=task_id, if_match=_versions(if_match))
    return await db.fetchrow(*statement, retry=False) is not None


async def clear_completed(db: Runner, caller: Caller) -> tuple[UserStatus, int]:
    """Delete every completed task of the caller's; how many went."""
    row = await db.fetchrow(*TASKS_CLEAR_COMPLETED(**caller.params), retry=False)
    assert row is not None  # the statement always returns one row
    return status_of(row["is_active"], row["may_act"]), row["deleted"]


async def tag_counts(db: Runner, caller: Caller) -> tuple[UserStatus, list[tuple[str, int]]]:
    """Every tag on the caller's tasks with how many carry it, by name."""
    records = await db.fetch(*TASKS_TAGS(**caller.params))
    head = records[0]
    counts = [(r["name"], r["count"]) for r in records if r["name"] is not None]
    return status_of(head["is_active"], head["may_act"]), counts


@dataclass(frozen=True)
class Overview:
    """How many of the caller's tasks are pending, completed, overdue, due today and due in the
    7 days after today, and the tags most of them carry (name, count)."""

    owner: UserStatus
    pending: int
    completed: int
    overdue: int
    due_today: int
    due_next_7_days: int
    top_tags: list[tuple[str, int]]


async def overview(db: Runner, caller: Caller, today: date, now: datetime) -> Overview:
    """The caller's tasks at a glance; `today` is the date in the caller's zone at `now`."""
    records = await db.fetch(*TASKS_OVERVIEW(**caller.params, today=_day(today), now=now))
    head = records[0]
    return Overview(
        owner=status_of(head["is_active"], head["may_act"]),
        pending=head["pending"],
        completed=head["completed"],
        overdue=head["overdue"] or 0,
        due_today=head["due_today"] or 0,
        due_next_7_days=head["due_next_7_days"] or 0,
        top_tags=[(r["name"], r["count"]) for r in records if r["name"] is not None],
    )


def cursor_key(sort: str, row: asyncpg.Record) -> CursorKey:
    """What a cursor after `row` holds for this sort: the row's value of the sort column (and
    of its second column, if it has one)."""
    spec = SORTS[sort]
    value: CursorKey = row[spec.column]
    if spec.then is not None:
        return (row[spec.column], row[spec.then.column])
    return value


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list: its sort order, how many rows, and after which row (the last
    row's sort value and id; None: the first page)."""

    sort: str
    order: Order
    limit: int
    after: tuple[CursorKey, int] | None = None


def page_statement(caller: Caller, filters: Filters, page: PageRequest) -> tuple[Any, ...]:
    """The statement and arguments for one page: `page.limit` rows and one more, to tell
    whether more follow. Also what the benchmark's floor runs, so both run the very same
    statement."""
    key, last_id = page.after if page.after is not None else (None, None)
    key, then = key if isinstance(key, tuple) else (key, None)
    in_list = filters.list_id is not None
    return PAGES[page.sort, page.order, page.after is not None, Search.of(filters.search), in_list](
        **caller.params,
        from_counts=filters.counted,
        overdue_count=filters.only_overdue,
        count_limit=COUNT_LIMIT + 1 if filters.bounded else None,
        completed=filters.completed,
        list_id=filters.list_id,
        pattern=like_pattern(filters.search) if filters.search else None,
        tags=list(filters.tags) or None,
        priorities=list(filters.priorities) or None,
        due_after=_day(filters.due_after),
        due_before=_day(filters.due_before),
        overdue=filters.overdue,
        today=_day(filters.today),
        now=filters.now,
        limit=page.limit + 1,
        after_key=key.isoformat() if isinstance(key, date | datetime) else key,
        after_id=last_id,
        after_then=then.isoformat() if isinstance(then, datetime) else None,
    )


async def list_tasks(db: Runner, caller: Caller, filters: Filters, page: PageRequest) -> Page:
    """One keyset page, and how many rows match the filters in all (at most COUNT_LIMIT, then
    not exact, for the filters whose count may stop there)."""
    statement = page_statement(caller, filters, page)
    records = await db.fetch(*statement)
    head = records[0]
    rows = [r for r in records if r["id"] is not None]
    total = head["total"]
    return Page(
        owner=status_of(head["is_active"], head["may_act"]),
        list_known=head["list_known"],
        total=min(total, COUNT_LIMIT) if filters.bounded else total,
        rows=rows[: page.limit],
        has_more=len(rows) > page.limit,
        exact=not filters.bounded or total <= COUNT_LIMIT,
    )


async def zoneless_tasks(db: Runner, caller: Caller) -> list[asyncpg.Record]:
    """The caller's tasks with a due time and no zone of their own (id, due_date, due_time,
    reminders): their due_at follows the caller's zone."""
    return await db.fetch(*TASKS_ZONELESS(**caller.params), retry=False)


async def rezone_tasks(
    db: Runner, caller: Caller, changed: Sequence[tuple[int, datetime | None, str]]
) -> None:
    """Set (id, due_at, reminders as JSON) on those tasks of the caller's."""
    if not changed:
        return
    ids, due_ats, reminders = zip(*changed, strict=True)
    statement = TASKS_REZONE(
        **caller.params, ids=list(ids), due_ats=list(due_ats), reminders=list(reminders)
    )
    await db.fetch(*statement, retry=False)
