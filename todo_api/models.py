"""Request bodies and query strings as pydantic models, and rows as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import asyncpg
import email_validator
from pydantic import (
    BaseModel,
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
USERNAME_PATTERN: Final = r"^[A-Za-z0-9_.-]{3,32}$"
SEARCH_MAX_CHARS: Final = 200
PAGE_LIMIT_MAX: Final = 500
PAGE_LIMIT_DEFAULT: Final = 100

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


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "Value must not be null")
    return value


class _Body(BaseModel):
    """Strict types (no "1" for 1 or 1 for true); unknown and read-only fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class RegisterBody(_Body):
    email: Annotated[
        str,
        Field(max_length=EMAIL_MAX_CHARS),
        WithJsonSchema({"type": "string", "format": "email", "maxLength": EMAIL_MAX_CHARS}),
    ]
    username: Annotated[str, Field(pattern=USERNAME_PATTERN)]
    password: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "format": "password",
                "minLength": PASSWORD_MIN_BYTES,
                "maxLength": MAX_PASSWORD_BYTES,
                "pattern": NO_NUL,
                "description": "8 to 72 bytes in UTF-8, checked exactly as given",
            }
        ),
    ]

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        try:
            checked = email_validator.validate_email(value, check_deliverability=False)
        except email_validator.EmailNotValidError as exc:
            raise PydanticCustomError(
                "email", "Not a valid email address: {reason}", {"reason": str(exc)}
            ) from None
        return checked.normalized.lower()

    @field_validator("password")
    @classmethod
    def _password_length(cls, value: str) -> str:
        size = len(value.encode())
        if not PASSWORD_MIN_BYTES <= size <= MAX_PASSWORD_BYTES:
            raise PydanticCustomError(
                "password_length",
                "Password must be {low} to {high} bytes in UTF-8",
                {"low": PASSWORD_MIN_BYTES, "high": MAX_PASSWORD_BYTES},
            )
        return value


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


def _update_schema(schema: dict[str, Any]) -> None:
    """Null is refused for title and completed; at least one updatable field is required."""
    properties = schema["properties"]
    properties["title"] = properties["title"]["anyOf"][0]
    properties["completed"] = {"type": "boolean"}
    schema["anyOf"] = [{"required": [name]} for name in ("title", "description", "completed")]


class TaskUpdate(_Body):
    model_config = ConfigDict(json_schema_extra=_update_schema)

    title: Title | None = None
    description: Description | None = None
    completed: bool | None = None

    _title_not_null = field_validator("title", "completed", mode="before")(_not_null)

    @model_validator(mode="after")
    def _something_to_change(self) -> TaskUpdate:
        if not self.model_fields_set & {"title", "description", "completed"}:
            raise PydanticCustomError(
                "no_update", "Give at least one of title, description, completed"
            )
        return self


class TaskComplete(_Body):
    model_config = ConfigDict(json_schema_extra={"properties": {"completed": {"type": "boolean"}}})

    completed: bool | None = None

    _completed_not_null = field_validator("completed", mode="before")(_not_null)


class TaskListQuery(BaseModel):
    """The list query string; lax types, since every value arrives as text."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["all", "pending", "completed"] = "all"
    sort: Literal["created", "updated", "title"] = "created"
    order: Literal["asc", "desc"] | None = None
    q: Annotated[str, Field(max_length=SEARCH_MAX_CHARS, pattern=NO_NUL)] | None = None
    limit: Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT
    cursor: Annotated[str, Field(max_length=1024)] | None = None

    @property
    def direction(self) -> str:
        if self.order is not None:
            return self.order
        return "asc" if self.sort == "title" else "desc"

    @property
    def completed(self) -> bool | None:
        return {"all": None, "pending": False, "completed": True}[self.status]


class UserOut(BaseModel):
    """A user, as every response shows one."""

    id: str
    email: str
    username: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class TaskOut(BaseModel):
    """A task, as every response shows one."""

    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    user: UserOut


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
TASK_FIELDS: Final = tuple(TaskOut.model_fields)


def user_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in USER_FIELDS}


def task_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in TASK_FIELDS}
