"""The change feed: its query string, its pages, and a changed or deleted task as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from todo_api.models.common import NO_NUL
from todo_api.models.tasks import TaskOut, task_json

SYNC_LIMIT_MAX: Final = 1000
SYNC_LIMIT_DEFAULT: Final = 500


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


def change_json(row: asyncpg.Record) -> dict[str, Any]:
    """A feed row: the task as it is now, or its tombstone."""
    if row["deleted"]:
        return {"id": row["id"], "deleted": True, "deleted_at": row["deleted_at"]}
    return task_json(row)
