"""Live events: the stream's query string, a ticket, and the Server-Sent Events wire format of
each event (a changed task, a tombstone, a fired reminder, a heartbeat)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field

from todo_api.models.common import NO_NUL
from todo_api.models.sync import change_json
from todo_api.models.tasks import task_json

MEDIA_TYPE: Final = "text/event-stream"
HEARTBEAT: Final = b": ping\n\n"


class EventsQuery(BaseModel):
    """The stream's query string: where to start (a sync token), and a ticket for EventSource."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    since: Annotated[str, Field(max_length=1024, pattern=NO_NUL)] | None = Field(
        default=None,
        description="Start after this sync token (Last-Event-ID, when sent, is used instead); "
        "without either, from now.",
    )
    ticket: Annotated[str, Field(max_length=128, pattern=NO_NUL)] | None = Field(
        default=None,
        description="A ticket from POST .../events/tickets, for clients that cannot send "
        "Authorization (EventSource).",
    )


class TicketOut(BaseModel):
    """A ticket: works once, within a minute, to open this user's event stream."""

    ticket: str
    expires_at: datetime


# One event, as OpenAPI before 3.2 describes a text/event-stream (and schemathesis reads it).
EVENT_SCHEMA: Final = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["task", "task.deleted", "reminder"]},
        "data": {
            "type": "string",
            "description": "JSON: the task (`task`), its tombstone (`task.deleted`), or "
            '`{"task": {...}, "fires_at": "..."}` (`reminder`).',
        },
        "id": {
            "type": "string",
            "description": "The sync token of the change's place in the feed (not on reminders).",
        },
    },
}


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


def change_event(row: asyncpg.Record, event_id: str) -> bytes:
    """A change feed row as an event: `task` with the task, or `task.deleted` with the tombstone;
    its id is the sync token of its position in the feed."""
    kind = b"task.deleted" if row["deleted"] else b"task"
    return b"event: %s\nid: %s\ndata: %s\n\n" % (kind, event_id.encode(), _json(change_json(row)))


def reminder_data(row: asyncpg.Record) -> str:
    """A fired reminder's data (`fired_at`: the instant that fired), as streams and webhooks send
    it; rendered once, when it fires."""
    return _json({"task": task_json(row), "fires_at": row["fired_at"]}).decode()


def reminder_event(data: str) -> bytes:
    """A fired reminder as an event: no id (missed ones are not replayed)."""
    return b"event: reminder\ndata: %s\n\n" % data.encode()
