"""Accounts: registration, login, sessions and account changes as request models, users and
sessions as JSON, and what a trusted issuer's claims give a new account."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import asyncpg
import email_validator
from pydantic import (
    AfterValidator,
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
from todo_api.models.common import NO_NUL, WHITE_SPACE, Body, Text, not_null, partial_update
from todo_api.models.time import Zone

# Addresses at special-use domains (.test, .local, .arpa, ...) are well-formed; whether mail
# reaches them is not this API's concern. email-validator documents clearing this list.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

EMAIL_MAX_CHARS: Final = 254
PASSWORD_MIN_BYTES: Final = 8
# JSON Schema counts characters, the rule counts UTF-8 bytes (1 to 4 a character): the document
# gives the character bounds every valid password meets, and the byte rule in its description.
PASSWORD_MIN_CHARS: Final = -(-PASSWORD_MIN_BYTES // 4)
USERNAME_MIN_CHARS: Final = 3
USERNAME_MAX_CHARS: Final = 32
USERNAME_PATTERN: Final = r"^[A-Za-z0-9_.-]{3,32}$"
NAME_MAX_CHARS: Final = 100


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


class RegisterBody(Body):
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


class LoginBody(Body):
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


class UserOut(BaseModel):
    """A user, as every response shows one."""

    id: str = Field(description="Opaque: a UUID here, the issuer's `sub` for issuer accounts.")
    email: str | None = Field(description="Null only for an issuer account without one.")
    username: str
    name: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    time_zone: str = Field(
        description="An IANA zone (default UTC): the zone of the user's tasks without one of "
        "their own, and the default `tz` of `overdue`."
    )


class SessionOut(BaseModel):
    """A session: what one login started, until it ends."""

    id: str = Field(description="The `sid` of its tokens.")
    created_at: datetime
    last_used_at: datetime = Field(description="Its last login or refresh.")
    user_agent: str | None
    current: bool = Field(description="The session of the token asking.")


class LoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds the access token lives.")
    refresh_token: str = Field(description="Opaque; works once, at POST /api/auth/refresh.")
    refresh_expires_in: int = Field(description="Seconds the refresh token lives.")
    user: UserOut


class RefreshBody(Body):
    refresh_token: Annotated[str, WithJsonSchema({"type": "string", "pattern": NO_NUL})]


ACCOUNT_UPDATABLE: Final = ("username", "name", "email", "time_zone")
ACCOUNT_NOT_NULL: Final = ("username", "email", "time_zone")


class MeUpdate(Body):
    """Any of username, name and email; an email change also needs the current password."""

    model_config = ConfigDict(json_schema_extra=partial_update(ACCOUNT_UPDATABLE, ACCOUNT_NOT_NULL))

    username: Username | None = None
    name: Name | None = None
    email: Email | None = None
    current_password: Text | None = Field(None, description="Needed to change the email.")
    time_zone: Zone | None = None

    _not_nulls = field_validator(*ACCOUNT_NOT_NULL, mode="before")(not_null)

    @model_validator(mode="after")
    def _something_to_change(self) -> MeUpdate:
        if not self.model_fields_set & set(ACCOUNT_UPDATABLE):
            raise PydanticCustomError(
                "no_change", "Give at least one of " + ", ".join(ACCOUNT_UPDATABLE)
            )
        return self


class PasswordConfirmation(Body):
    """The current password, which deleting an account needs (missing: 403, as wrong)."""

    password: Text | None = None


class PasswordChange(Body):
    current_password: Text
    new_password: NewPassword


# The response shapes, one place: the documented models' fields, in their order.
USER_FIELDS: Final = tuple(UserOut.model_fields)
SESSION_FIELDS: Final = tuple(SessionOut.model_fields)


def user_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in USER_FIELDS}


def session_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in SESSION_FIELDS}


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
