"""Personal access tokens: the create body, and a token as JSON (the token itself only in the
answer that made it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import asyncpg
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from todo_api.models.common import Body, trimmed_pattern, whole_number
from todo_api.models.lists import NAME_MAX_CHARS, short_name

DEFAULT_EXPIRY_DAYS: Final = 90
MAX_EXPIRY_DAYS: Final = 365

TokenName = Annotated[
    str,
    BeforeValidator(short_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": trimmed_pattern(NAME_MAX_CHARS),
            "description": "1 to 100 characters after trimming surrounding white space, no "
            "control character.",
        }
    ),
]
TokenScope = Literal["read", "write"]


class TokenCreate(Body):
    name: TokenName
    scope: TokenScope = Field(
        "write", description="read: GET and HEAD, and the read-only MCP tools, only."
    )
    expires_in_days: (
        # The bounds before the validator: pydantic writes them as JSON Schema's only then.
        Annotated[int, Field(ge=1, le=MAX_EXPIRY_DAYS), BeforeValidator(whole_number)] | None
    ) = Field(DEFAULT_EXPIRY_DAYS, description="1 to 365 days; null: the token never expires.")


class TokenOut(BaseModel):
    """A personal access token as listed: never the token itself."""

    id: int
    name: str
    scope: TokenScope
    created_at: datetime
    expires_at: datetime | None = Field(description="null: never expires.")
    last_used_at: datetime | None = Field(description="May lag by up to a minute.")


class TokenCreated(BaseModel):
    """A new personal access token, with the token: shown here only, never again."""

    id: int
    name: str
    scope: TokenScope
    token: str = Field(
        description="`tdo_` and 256 random bits; send it as `Authorization: Bearer tdo_...`."
    )
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


TOKEN_FIELDS: Final = tuple(TokenOut.model_fields)


def token_json(row: asyncpg.Record, token: str | None = None) -> dict[str, Any]:
    shown = {name: row[name] for name in TOKEN_FIELDS}
    return shown if token is None else {**shown, "token": token}
