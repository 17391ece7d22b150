"""Tasks: the create, update, complete and move bodies, the list query string, and a task as
JSON."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

import asyncpg
import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from todo_api.models.common import (
    CONTROL,
    NO_NUL,
    ROW_ID_SCHEMA,
    TIME_ZONES,
    WHITE_SPACE,
    Body,
    CalendarDate,
    RowId,
    known_zone,
    lower_case,
    not_null,
    partial_update,
    trimmed_pattern,
)
from todo_api.models.time import (
    REMINDER_SCHEMA,
    REMINDERS_MAX,
    DueTime,
    Recurrence,
    RecurrenceBasis,
    ReminderIn,
    Zone,
    merged_reminders,
    show_time,
)

TITLE_MAX_CHARS: Final = 200
DESCRIPTION_MAX_CHARS: Final = 1000
SEARCH_MAX_CHARS: Final = 200
PAGE_LIMIT_MAX: Final = 500
PAGE_LIMIT_DEFAULT: Final = 100
TAGS_MAX: Final = 20
TAG_MAX_CHARS: Final = 40
PRIORITIES: Final = ("none", "low", "medium", "high")
# A title has 1 to 200 characters between its surrounding white space.

TITLE_PATTERN: Final = rf"^\s*[^\s\x00](?:[^\x00]{{0,{TITLE_MAX_CHARS - 2}}}[^\s\x00])?\s*$"

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_CHARS),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": TITLE_PATTERN,
            "description": "1 to 200 characters after trimming surrounding white space",
        }
    ),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX_CHARS),
    WithJsonSchema({"type": "string", "maxLength": DESCRIPTION_MAX_CHARS, "pattern": NO_NUL}),
]

_TAG_BAD: Final = re.compile(f"[{CONTROL},]")
# A tag as sent: white space around 1 to 40 characters that are neither control characters nor
# commas, the first and last of them not white space either.
TAG_PATTERN: Final = trimmed_pattern(TAG_MAX_CHARS, ",")


def _tag(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    tag = lower_case(value.strip(WHITE_SPACE))
    if not 1 <= len(tag) <= TAG_MAX_CHARS:
        raise PydanticCustomError(
            "tag_length", "A tag has 1 to {high} characters after trimming", {"high": TAG_MAX_CHARS}
        )
    if _TAG_BAD.search(tag):
        raise PydanticCustomError("tag_characters", "A tag holds no control character or comma")
    return tag


def _merged(tags: list[str]) -> list[str]:
    merged = list(dict.fromkeys(tags))
    if len(merged) > TAGS_MAX:
        raise PydanticCustomError(
            "too_many_tags", "At most {high} different tags", {"high": TAGS_MAX}
        )
    return merged


TAG_SCHEMA: Final = {
    "type": "string",
    "pattern": TAG_PATTERN,
    "description": "Trimmed and lower-cased; then 1 to 40 characters, no control character, "
    "no comma.",
}
Tag = Annotated[str, BeforeValidator(_tag), WithJsonSchema(TAG_SCHEMA)]
Tags = Annotated[
    list[Tag],
    WithJsonSchema(
        {
            "type": "array",
            "items": TAG_SCHEMA,
            "maxItems": TAGS_MAX,
            "description": "0 to 20 tags; duplicates (after trimming and lower-casing) are "
            "merged, the order given is kept.",
        }
    ),
]

Priority = Literal["none", "low", "medium", "high"]

ListId = Annotated[
    RowId,
    WithJsonSchema(
        {**ROW_ID_SCHEMA, "description": "One of the user's lists (GET /api/{user_id}/lists)."}
    ),
]


def _merged_reminders(value: list[ReminderIn] | None) -> list[ReminderIn] | None:
    return None if value is None else merged_reminders(value)


Reminders = Annotated[
    list[ReminderIn],
    WithJsonSchema(
        {
            "type": "array",
            "items": REMINDER_SCHEMA,
            "maxItems": REMINDERS_MAX,
            "description": "0 to 5 reminders (equal entries merged, the order given kept); "
            "null: none. A before reminder needs a due_time.",
        }
    ),
]


class TaskCreate(Body):
    title: Title
    description: Description | None = None
    completed: bool = False
    due_date: CalendarDate | None = None
    priority: Priority = "none"
    tags: Tags = []  # noqa: RUF012 (pydantic copies defaults)
    list_id: ListId | None = Field(None, description="null or left out: the default list.")
    due_time: DueTime | None = None
    time_zone: Zone | None = None
    recurrence: Recurrence | None = None
    recurrence_basis: RecurrenceBasis = "due"
    reminders: Reminders | None = None

    _tags_merged = field_validator("tags")(_merged)
    _basis_not_null = field_validator("recurrence_basis", mode="before")(not_null)
    _reminders_merged = field_validator("reminders")(_merged_reminders)


UPDATABLE: Final = (
    "title",
    "description",
    "completed",
    "due_date",
    "priority",
    "tags",
    "list_id",
    "due_time",
    "time_zone",
    "recurrence",
    "recurrence_basis",
    "reminders",
)
NOT_NULL_UPDATES: Final = (
    "title",
    "completed",
    "priority",
    "tags",
    "list_id",
    "recurrence_basis",
)


class TaskUpdate(Body):
    model_config = ConfigDict(json_schema_extra=partial_update(UPDATABLE, NOT_NULL_UPDATES))

    title: Title | None = None
    description: Description | None = None
    completed: bool | None = None
    due_date: CalendarDate | None = None
    priority: Priority | None = None
    tags: Tags | None = None
    list_id: ListId | None = Field(None, description="Another list: the task goes on its top.")
    due_time: DueTime | None = None
    time_zone: Zone | None = None
    recurrence: Recurrence | None = None
    recurrence_basis: RecurrenceBasis | None = None
    reminders: Reminders | None = None

    _not_nulls = field_validator(*NOT_NULL_UPDATES, mode="before")(not_null)
    _reminders_merged = field_validator("reminders")(_merged_reminders)

    @field_validator("tags")
    @classmethod
    def _tags_merged(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _merged(value)

    @model_validator(mode="after")
    def _something_to_change(self) -> TaskUpdate:
        if not self.model_fields_set & set(UPDATABLE):
            raise PydanticCustomError("no_update", "Give at least one of " + ", ".join(UPDATABLE))
        return self


class TaskComplete(Body):
    model_config = ConfigDict(json_schema_extra={"properties": {"completed": {"type": "boolean"}}})

    completed: bool | None = None

    _completed_not_null = field_validator("completed", mode="before")(not_null)


class TaskMove(Body):
    """Where a task goes: into list `list_id` (left out or null: its own), right after task
    `after` of that list, or to its top (null)."""

    after: Annotated[
        RowId | None,
        WithJsonSchema(
            {
                "anyOf": [ROW_ID_SCHEMA, {"type": "null"}],
                "description": "A task id of the user's in the target list (not the moved "
                "task), or null for the top.",
            }
        ),
    ]
    list_id: Annotated[
        RowId | None,
        WithJsonSchema(
            {
                "anyOf": [ROW_ID_SCHEMA, {"type": "null"}],
                "description": "The list to move the task into (one of the user's); left out "
                "or null: the task's own.",
            }
        ),
    ] = None


# Repeatable query parameters: (name, what it holds).
LIST_PARAMETERS: Final = ("tag", "priority")


class TaskListQuery(BaseModel):
    """The list query string; lax types, since every value arrives as text (the repeatable
    parameters, `tag` and `priority`, as lists)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["all", "pending", "completed"] = "all"
    list_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        None, alias="list", description="Only this list's tasks (one of the user's lists)."
    )
    sort: Literal["created", "updated", "title", "due", "priority", "position"] = Field(
        "created",
        description="created (default order desc), updated (desc), title (asc, "
        "case-insensitive), due (asc; tasks without a due date last in either order), "
        "priority (desc: high first), position (asc: the manual order).",
    )
    order: Literal["asc", "desc"] | None = Field(
        None, description="The direction; the default depends on `sort`."
    )
    q: Annotated[str, Field(max_length=SEARCH_MAX_CHARS, pattern=NO_NUL)] | None = None
    tag: list[Tag] = Field(
        [], description="Repeatable: a task must carry every tag given (compared lower-cased)."
    )
    priority: list[Priority] = Field(
        [], description="Repeatable: a task must have one of the priorities given."
    )
    due_before: CalendarDate | None = Field(
        None, description="Due on or before this day (tasks without a due date never match)."
    )
    due_after: CalendarDate | None = Field(
        None, description="Due on or after this day (tasks without a due date never match)."
    )
    overdue: Annotated[Literal["true", "false"], WithJsonSchema({"type": "boolean"})] | None = (
        Field(
            None,
            description="true: pending tasks with a due_at that has passed, or without a "
            "due_time and due before today in `tz`; false: every other task.",
        )
    )
    tz: Annotated[
        Annotated[str, BeforeValidator(known_zone)] | None,
        WithJsonSchema({"type": "string", "enum": list(TIME_ZONES)}),
    ] = Field(
        None,
        description="The IANA time zone whose today `overdue` uses; default: the user's time_zone.",
    )
    limit: Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT
    cursor: Annotated[str, Field(max_length=1024, pattern=NO_NUL)] | None = None

    @property
    def completed(self) -> bool | None:
        return {"all": None, "pending": False, "completed": True}[self.status]

    @property
    def overdue_flag(self) -> bool | None:
        return None if self.overdue is None else self.overdue == "true"

    def today(self, now: datetime, owner_zone: str) -> date:
        """The date in `tz` (default: the owner's zone) at the instant `now`."""
        return now.astimezone(zoneinfo.ZoneInfo(self.tz or owner_zone)).date()


# A reminder as shown: `before` or `at`, with when it fires.
REMINDERS_OUT: Final = {
    "type": "array",
    "maxItems": REMINDERS_MAX,
    "items": {
        "oneOf": [
            {
                "type": "object",
                "required": ["before", "fires_at"],
                "properties": {
                    "before": {"type": "integer", "minimum": 0, "maximum": 40320},
                    "fires_at": {"type": "string", "format": "date-time"},
                },
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["at", "fires_at"],
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "fires_at": {"type": "string", "format": "date-time"},
                },
                "additionalProperties": False,
            },
        ],
        "description": "fires_at (read-only, UTC): due_at minus `before` minutes, or `at`.",
    },
}


class TaskOut(BaseModel):
    """A task, as every response shows one."""

    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    completed_at: datetime | None
    due_date: date | None
    priority: Priority
    tags: list[str]
    position: str = Field(
        description="The place in the user's manual order: positions increase in code-point "
        "order (sort=position). Read-only."
    )
    version: int = Field(ge=1, description="1 when created, 1 more on every change. Read-only.")
    created_at: datetime
    updated_at: datetime
    list_id: int = Field(description="The list the task is in.")
    due_time: str | None = Field(description='"HH:MM" (24-hour), or null.')
    time_zone: str | None = Field(description="An IANA zone, or null: the owner's zone.")
    due_at: datetime | None = Field(
        description="Read-only: due_date at due_time in the task's zone (UTC), or null without "
        "a due_time. A time in a spring-forward gap moves forward by the gap; an ambiguous one "
        "is the first of the two."
    )
    recurrence: str | None = Field(description="The RRULE, upper-cased, or null.")
    recurrence_basis: RecurrenceBasis
    occurrence: int = Field(ge=1, description="Which occurrence of the series the task is at.")
    last_completed_at: datetime | None = Field(
        description="When an occurrence of the series was last completed. Read-only."
    )
    reminders: Annotated[list[dict[str, Any]], WithJsonSchema(REMINDERS_OUT)]


class TagCount(BaseModel):
    """A tag and how many of the user's tasks carry it."""

    name: str
    count: int = Field(ge=1)


class DeletedOut(BaseModel):
    deleted: int = Field(ge=0)


TASK_FIELDS: Final = tuple(TaskOut.model_fields)


def task_json(row: asyncpg.Record) -> dict[str, Any]:
    task = {name: row[name] for name in TASK_FIELDS}
    task["due_time"] = show_time(task["due_time"])
    task["reminders"] = orjson.Fragment(task["reminders"])  # jsonb, already as shown
    return task
