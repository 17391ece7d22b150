"""Request bodies and query strings as pydantic models, and rows as JSON."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

import asyncpg
import email_validator
from pydantic import (
    AfterValidator,
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

from todo_api.auth.passwords import MAX_PASSWORD_BYTES

# Addresses at special-use domains (.test, .local, .arpa, ...) are well-formed; whether mail
# reaches them is not this API's concern. email-validator documents clearing this list.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

TITLE_MAX_CHARS: Final = 200
DESCRIPTION_MAX_CHARS: Final = 1000
EMAIL_MAX_CHARS: Final = 254
PASSWORD_MIN_BYTES: Final = 8
# JSON Schema counts characters, the rule counts UTF-8 bytes (1 to 4 a character): the document
# gives the character bounds every valid password meets, and the byte rule in its description.
PASSWORD_MIN_CHARS: Final = -(-PASSWORD_MIN_BYTES // 4)
USERNAME_MIN_CHARS: Final = 3
USERNAME_MAX_CHARS: Final = 32
USERNAME_PATTERN: Final = r"^[A-Za-z0-9_.-]{3,32}$"
NAME_MAX_CHARS: Final = 100
SEARCH_MAX_CHARS: Final = 200
PAGE_LIMIT_MAX: Final = 500
PAGE_LIMIT_DEFAULT: Final = 100
SYNC_LIMIT_MAX: Final = 1000
SYNC_LIMIT_DEFAULT: Final = 500
TAGS_MAX: Final = 20
TAG_MAX_CHARS: Final = 40
PRIORITIES: Final = ("none", "low", "medium", "high")
# Every IANA time zone this machine knows (the tzdata package guarantees the set); `tz` is one.
TIME_ZONES: Final = tuple(sorted(zoneinfo.available_timezones()))

# What the documents say of strings, exactly as the validators below decide: no NUL anywhere;
# a title has 1 to 200 characters between its surrounding white space.
NO_NUL: Final = r"^[^\x00]*$"
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
Text = Annotated[str, WithJsonSchema({"type": "string", "pattern": NO_NUL})]

# The white space trimmed from tags: Unicode White_Space, the set migration 0002 trims titles of
# (and 0003's CHECK on tags repeats).
WHITE_SPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL: Final = r"\x00-\x1f\x7f-\x9f"
_TAG_BAD: Final = re.compile(f"[{_CONTROL},]")
_SPACE: Final = "".join(f"\\u{ord(c):04x}" for c in WHITE_SPACE)
# A tag as sent: white space around 1 to 40 characters that are neither control characters nor
# commas, the first and last of them not white space either.
TAG_PATTERN: Final = (
    f"^[{_SPACE}]*(?:[^{_SPACE}{_CONTROL},]"
    f"|[^{_SPACE}{_CONTROL},][^{_CONTROL},]{{0,{TAG_MAX_CHARS - 2}}}[^{_SPACE}{_CONTROL},])"
    f"[{_SPACE}]*$"
)


def lower_case(text: str) -> str:
    """Unicode's simple lower-case mapping, one character for one: Python's str.lower() but for
    U+0130 (capital I with a dot), whose full mapping adds a combining dot. So a tag's length is
    the same before and after, and the document can state the rule exactly."""
    return text.replace("\u0130", "i").lower()


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

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_PATTERN: Final = (
    "^(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$"
)


def _calendar_date(value: Any) -> date:
    """`YYYY-MM-DD`, a real calendar day from 0001-01-01 to 9999-12-31, and nothing else."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date", "A calendar date YYYY-MM-DD from 0001-01-01 to 9999-12-31")


CalendarDate = Annotated[
    date,
    BeforeValidator(_calendar_date),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": DATE_PATTERN,
            "description": "A calendar date, YYYY-MM-DD, from 0001-01-01 to 9999-12-31.",
        }
    ),
]
Priority = Literal["none", "low", "medium", "high"]


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "Value must not be null")
    return value


class _Body(BaseModel):
    """Strict types (no "1" for 1 or 1 for true); unknown and read-only fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def _valid_email(value: str) -> str:
    """The address, checked and lower-cased, or a 422 error."""
    try:
        checked = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise PydanticCustomError(
            "email", "Not a valid email address: {reason}", {"reason": str(exc)}
        ) from None
    return checked.normalized.lower()


def _password_length(value: str) -> str:
    size = len(value.encode())
    if not PASSWORD_MIN_BYTES <= size <= MAX_PASSWORD_BYTES:
        raise PydanticCustomError(
            "password_length",
            "Password must be {low} to {high} bytes in UTF-8",
            {"low": PASSWORD_MIN_BYTES, "high": MAX_PASSWORD_BYTES},
        )
    return value


def _blank_is_none(value: str | None) -> str | None:
    return value or None


Email = Annotated[
    str,
    Field(max_length=EMAIL_MAX_CHARS),
    AfterValidator(_valid_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": EMAIL_MAX_CHARS}),
]
Username = Annotated[str, Field(pattern=USERNAME_PATTERN)]
NewPassword = Annotated[
    str,
    AfterValidator(_password_length),
    WithJsonSchema(
        {
            "type": "string",
            "format": "password",
            "minLength": PASSWORD_MIN_CHARS,
            "maxLength": MAX_PASSWORD_BYTES,
            "pattern": NO_NUL,
            "description": "8 to 72 bytes in UTF-8, checked exactly as given",
        }
    ),
]
# A display name: stored trimmed; blank means none.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=NAME_MAX_CHARS),
    AfterValidator(_blank_is_none),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^\s*(?:[^\s\x00](?:[^\x00]{{0,{NAME_MAX_CHARS - 2}}}[^\s\x00])?)?\s*$",
            "description": "At most 100 characters after trimming surrounding white space; "
            "blank means none",
        }
    ),
]


class RegisterBody(_Body):
    email: Email
    username: Username | None = Field(
        None, description="Left out or null: derived from the email (and returned)."
    )
    name: Name | None = None
    password: NewPassword


def username_base(email: str | None) -> str:
    """What a username is derived from: the email's local part with every character the rule
    refuses dropped, padded or cut to fit (sql/_free_username.sql adds -2, -3, ... if taken)."""
    local = (email or "").partition("@")[0]
    kept = re.sub(r"[^A-Za-z0-9_.-]", "", local)[:USERNAME_MAX_CHARS] or "user"
    return kept.ljust(USERNAME_MIN_CHARS, "_")


class LoginBody(_Body):
    """An email or a username (exactly one), and the password."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["email"]}, {"required": ["username"]}],
        }
    )

    email: Annotated[str | None, WithJsonSchema({"type": "string", "pattern": NO_NUL})] = None
    username: Annotated[str | None, WithJsonSchema({"type": "string", "pattern": NO_NUL})] = None
    password: Text

    @model_validator(mode="after")
    def _one_login(self) -> LoginBody:
        if (self.email is None) == (self.username is None):
            raise PydanticCustomError("login_field", "Give exactly one of email or username")
        return self

    @property
    def login(self) -> str:
        return self.email if self.email is not None else self.username or ""


class LoginForm(BaseModel):
    """The OAuth2 password form ("Authorize" in API tools); `username` may hold the email."""

    username: Text
    password: Text
    grant_type: Text | None = None
    scope: Text | None = None


class TaskCreate(_Body):
    title: Title
    description: Description | None = None
    completed: bool = False
    due_date: CalendarDate | None = None
    priority: Priority = "none"
    tags: Tags = []

    _tags_merged = field_validator("tags")(_merged)


UPDATABLE: Final = ("title", "description", "completed", "due_date", "priority", "tags")
NOT_NULL_UPDATES: Final = ("title", "completed", "priority", "tags")


def _partial_update(
    updatable: tuple[str, ...], not_null: tuple[str, ...]
) -> Callable[[dict[str, Any]], None]:
    """The schema of a partial update: null is refused for the `not_null` fields, and at least
    one of the `updatable` ones is required."""

    def adjust(schema: dict[str, Any]) -> None:
        properties = schema["properties"]
        for name in not_null:
            branches = [b for b in properties[name].get("anyOf", [properties[name]])]
            kept = [b for b in branches if b.get("type") != "null"]
            properties[name] = {
                **{k: v for k, v in properties[name].items() if k not in ("anyOf", "default")},
                **kept[0],
            }
        schema["anyOf"] = [{"required": [name]} for name in updatable]

    return adjust


class TaskUpdate(_Body):
    model_config = ConfigDict(json_schema_extra=_partial_update(UPDATABLE, NOT_NULL_UPDATES))

    title: Title | None = None
    description: Description | None = None
    completed: bool | None = None
    due_date: CalendarDate | None = None
    priority: Priority | None = None
    tags: Tags | None = None

    _not_nulls = field_validator(*NOT_NULL_UPDATES, mode="before")(_not_null)

    @field_validator("tags")
    @classmethod
    def _tags_merged(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _merged(value)

    @model_validator(mode="after")
    def _something_to_change(self) -> TaskUpdate:
        if not self.model_fields_set & set(UPDATABLE):
            raise PydanticCustomError("no_update", "Give at least one of " + ", ".join(UPDATABLE))
        return self


class TaskComplete(_Body):
    model_config = ConfigDict(json_schema_extra={"properties": {"completed": {"type": "boolean"}}})

    completed: bool | None = None

    _completed_not_null = field_validator("completed", mode="before")(_not_null)


def _whole_number(value: Any) -> Any:
    """JSON Schema's integers include 3.0: take a whole float as the integer it is."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


class TaskMove(_Body):
    """Where a task goes: right after task `after`, or to the top (null)."""

    after: Annotated[
        Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=2**63 - 1)] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    {"type": "null"},
                ],
                "description": "A task id of the user's (not the moved task), or null for the top.",
            }
        ),
    ]


def _zone(value: Any) -> Any:
    if isinstance(value, str) and value not in _ZONE_SET:
        raise PydanticCustomError("time_zone", "Not an IANA time zone name")
    return value


_ZONE_SET: Final = frozenset(TIME_ZONES)
# Repeatable query parameters: (name, what it holds).
LIST_PARAMETERS: Final = ("tag", "priority")


class TaskListQuery(BaseModel):
    """The list query string; lax types, since every value arrives as text (the repeatable
    parameters, `tag` and `priority`, as lists)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["all", "pending", "completed"] = "all"
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
            description="true: pending tasks due before today in `tz`; false: every other task.",
        )
    )
    tz: Annotated[
        str, BeforeValidator(_zone), WithJsonSchema({"type": "string", "enum": list(TIME_ZONES)})
    ] = Field("UTC", description="The IANA time zone whose today `overdue` uses.")
    limit: Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT
    cursor: Annotated[str, Field(max_length=1024)] | None = None

    @property
    def completed(self) -> bool | None:
        return {"all": None, "pending": False, "completed": True}[self.status]

    @property
    def overdue_flag(self) -> bool | None:
        return None if self.overdue is None else self.overdue == "true"

    def today(self, now: datetime) -> date:
        """The date in `tz` at the instant `now`."""
        return now.astimezone(zoneinfo.ZoneInfo(self.tz)).date()


class UserOut(BaseModel):
    """A user, as every response shows one."""

    id: str = Field(description="Opaque: a UUID here, the issuer's `sub` for issuer accounts.")
    email: str | None = Field(description="Null only for an issuer account without one.")
    username: str
    name: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class SessionOut(BaseModel):
    """A session: what one login started, until it ends."""

    id: str = Field(description="The `sid` of its tokens.")
    created_at: datetime
    last_used_at: datetime = Field(description="Its last login or refresh.")
    user_agent: str | None
    current: bool = Field(description="The session of the token asking.")


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


class TombstoneOut(BaseModel):
    """A deleted task, as the change feed reports it."""

    id: int
    deleted: Literal[True]
    deleted_at: datetime


class ChangesOut(BaseModel):
    """One page of the change feed."""

    changes: list[TaskOut | TombstoneOut]
    next: str = Field(description="The token to call again with (at once while `more`).")
    more: bool


class SyncQuery(BaseModel):
    """The change feed's query string."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    since: Annotated[str, Field(max_length=1024, pattern=NO_NUL)] | None = None
    limit: Annotated[int, Field(ge=1, le=SYNC_LIMIT_MAX)] = SYNC_LIMIT_DEFAULT


class TagCount(BaseModel):
    """A tag and how many of the user's tasks carry it."""

    name: str
    count: int = Field(ge=1)


class DeletedOut(BaseModel):
    deleted: int = Field(ge=0)


class LoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds the access token lives.")
    refresh_token: str = Field(description="Opaque; works once, at POST /api/auth/refresh.")
    refresh_expires_in: int = Field(description="Seconds the refresh token lives.")
    user: UserOut


class RefreshBody(_Body):
    refresh_token: Annotated[str, WithJsonSchema({"type": "string", "pattern": NO_NUL})]


ACCOUNT_UPDATABLE: Final = ("username", "name", "email")
ACCOUNT_NOT_NULL: Final = ("username", "email")


class MeUpdate(_Body):
    """Any of username, name and email; an email change also needs the current password."""

    model_config = ConfigDict(
        json_schema_extra=_partial_update(ACCOUNT_UPDATABLE, ACCOUNT_NOT_NULL)
    )

    username: Username | None = None
    name: Name | None = None
    email: Email | None = None
    current_password: Text | None = Field(None, description="Needed to change the email.")

    _not_nulls = field_validator(*ACCOUNT_NOT_NULL, mode="before")(_not_null)

    @model_validator(mode="after")
    def _something_to_change(self) -> MeUpdate:
        if not self.model_fields_set & set(ACCOUNT_UPDATABLE):
            raise PydanticCustomError("no_change", "Give at least one of username, name, email")
        return self


class PasswordConfirmation(_Body):
    """The current password, which deleting an account needs (missing: 403, as wrong)."""

    password: Text | None = None


class PasswordChange(_Body):
    current_password: Text
    new_password: NewPassword


class StatusOut(BaseModel):
    status: str


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str


class ValidationProblemOut(ProblemOut):
    errors: list[ErrorItem]


# The response shapes, one place: the documented models' fields, in their order.
USER_FIELDS: Final = tuple(UserOut.model_fields)
SESSION_FIELDS: Final = tuple(SessionOut.model_fields)
TASK_FIELDS: Final = tuple(TaskOut.model_fields)


def user_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in USER_FIELDS}


def session_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in SESSION_FIELDS}


def task_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in TASK_FIELDS}


def change_json(row: asyncpg.Record) -> dict[str, Any]:
    """A feed row: the task as it is now, or its tombstone."""
    if row["deleted"]:
        return {"id": row["id"], "deleted": True, "deleted_at": row["deleted_at"]}
    return task_json(row)


@dataclass(frozen=True)
class ExternalProfile:
    """What a trusted issuer's claims give a new account: only values the account's rules
    take (an email that is not a valid address, or a name too long, is left out)."""

    email: str | None
    base_username: str
    name: str | None


def external_profile(email: str | None, name: str | None) -> ExternalProfile:
    try:
        address: str | None = _valid_email(email) if email is not None else None
    except PydanticCustomError:
        address = None
    if address is not None and len(address) > EMAIL_MAX_CHARS:
        address = None
    display = name.strip(WHITE_SPACE).replace("\x00", "") if name is not None else None
    if display is not None and len(display) > NAME_MAX_CHARS:
        display = display[:NAME_MAX_CHARS].rstrip(WHITE_SPACE)
    return ExternalProfile(address, username_base(address), display or None)
