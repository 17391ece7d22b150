"""Lists: the create, rename and move bodies, and a list as JSON."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final

import asyncpg
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from todo_api.models.common import (
    CONTROL,
    ROW_ID_SCHEMA,
    WHITE_SPACE,
    Body,
    RowId,
    trimmed_pattern,
)

NAME_MAX_CHARS: Final = 100
_NAME_BAD: Final = re.compile(f"[{CONTROL}]")


def short_name(value: Any) -> str:
    """A name (a list's, a personal token's): 1 to 100 characters after trimming, no control
    character."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    name = value.strip(WHITE_SPACE)
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        raise PydanticCustomError(
            "name_length",
            "A name has 1 to {high} characters after trimming",
            {"high": NAME_MAX_CHARS},
        )
    if _NAME_BAD.search(name):
        raise PydanticCustomError("name_characters", "A name holds no control character")
    return name


ListName = Annotated[
    str,
    BeforeValidator(short_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": trimmed_pattern(NAME_MAX_CHARS),
            "description": "1 to 100 characters after trimming surrounding white space, no "
            "control character; unique among the user's lists, case-insensitively.",
        }
    ),
]


class ListCreate(Body):
    name: ListName


class ListRename(Body):
    name: ListName


class ListMove(Body):
    """Where a list goes: right after list `after`, or first (null)."""

    after: Annotated[
        RowId | None,
        WithJsonSchema(
            {
                "anyOf": [ROW_ID_SCHEMA, {"type": "null"}],
                "description": "A list id of the user's (not the moved list), or null for first.",
            }
        ),
    ]


class ListOut(BaseModel):
    """A list, as every response shows one."""

    id: int
    name: str
    is_default: bool = Field(description="The user's default list (Inbox): never deleted.")
    position: str = Field(
        description="The place in the user's order of lists: positions increase in code-point "
        "order. Read-only."
    )
    version: int = Field(
        ge=1, description="1 when created, 1 more on every change of its name or position."
    )
    task_count: int = Field(ge=0, description="Tasks in the list.")
    pending_count: int = Field(ge=0, description="Tasks in the list not completed.")
    created_at: datetime
    updated_at: datetime


LIST_FIELDS: Final = tuple(ListOut.model_fields)


def list_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in LIST_FIELDS}
