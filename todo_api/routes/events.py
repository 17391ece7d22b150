"""GET /api/{user_id}/events: the user's changes and fired reminders as Server-Sent Events, for
open apps; POST /api/{user_id}/events/tickets: a one-time ticket for the browser's EventSource,
which cannot send Authorization. Everything a client can get wrong (token, ticket, sync token,
too many streams) is answered before the stream starts; event_stream.py runs the stream."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from todo_api.auth.backend import unauthorized
from todo_api.caller import Caller
from todo_api.db import events
from todo_api.event_stream import EventStream, claim_seconds
from todo_api.models.events import EVENT_SCHEMA, MEDIA_TYPE, EventsQuery, TicketOut
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import AUTHORISED, refuse_user, refused
from todo_api.routes.sync import read_sync_token
from todo_api.routes.tasks import owner_of
from todo_api.services import services
from todo_api.sync_tokens import ReadToken

TICKET_TTL_SECONDS: Final = 60
TICKET_BYTES: Final = 32  # 256 random bits
LAST_EVENT_ID_MAX: Final = 1024


def _ticket_hash(ticket: str) -> bytes:
    """Only this is kept: a copy of the table lets nobody open a stream."""
    return hashlib.sha256(ticket.encode()).digest()


@operation(
    operation_id="createEventTicket",
    summary="A one-time ticket to open the event stream without Authorization (EventSource)",
    tag="events",
    replies=(Reply(201, "The ticket: works once, within 60 seconds, on this path.", TicketOut),),
    errors=AUTHORISED,
)
async def create_ticket(request: Request) -> Response:
    caller = owner_of(request)
    svc = services(request)
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    expires_at = await events.create_ticket(
        svc.db, caller, _ticket_hash(ticket), TICKET_TTL_SECONDS
    )
    if expires_at is None:
        await refused(svc.db, caller)
    return JSONResponse({"ticket": ticket, "expires_at": expires_at}, status_code=201)


def _start(request: Request, params: EventsQuery, user_id: str) -> ReadToken | None:
    """Where the stream starts: after Last-Event-ID (a reconnecting EventSource's), else after
    `since`; None: from now."""
    svc = services(request)
    last_event_id = request.headers.get("last-event-id", "")
    if last_event_id:
        loc = ["header", "last-event-id"]
        if len(last_event_id) > LAST_EVENT_ID_MAX:
            error = {"loc": loc, "msg": "too long to be a sync token", "type": "string_too_long"}
            raise Problem(422, "Invalid Last-Event-ID: too long", errors=[error])
        return read_sync_token(svc.sync_tokens, last_event_id, user_id, loc)
    if params.since is not None:
        return read_sync_token(svc.sync_tokens, params.since, user_id, ["query", "since"])
    return None


@operation(
    operation_id="eventStream",
    summary="A live stream of the user's changes and fired reminders (Server-Sent Events)",
    tag="events",
    query=EventsQuery,
    request_headers=("Last-Event-ID",),
    replies=(
        Reply(
            200,
            "`text/event-stream`: `event: task` (a created or changed task) and `event: "
            "task.deleted` (its tombstone), each with `id:` its sync token; `event: reminder` "
            '(`{"task": {...}, "fires_at": "..."}`, no id) when a reminder fires; a `: ping` '
            "comment every EVENTS_HEARTBEAT_SECONDS when nothing else was sent.",
            media_type=MEDIA_TYPE,
            schema=EVENT_SCHEMA,
        ),
    ),
    errors=(410, 422, 429, *AUTHORISED),
)
async def event_stream(request: Request) -> Response:
    params = validated(EventsQuery, dict(request.query_params), where="query")
    user_id: str = request.path_params["user_id"]
    svc = services(request)
    caller: Caller | None = None
    ticket_hash: bytes | None = None
    if params.ticket is not None and "authorization" not in request.headers:
        ticket_hash = _ticket_hash(params.ticket)
    else:
        caller = owner_of(request)
    start = _start(request, params, user_id)
    heartbeat = svc.settings.events_heartbeat_seconds
    stream_id = uuid.uuid4()
    try:
        opening = await events.open_stream(
            svc.db,
            caller,
            user_id=user_id,
            ticket_hash=ticket_hash,
            stream_id=stream_id,
            max_streams=svc.settings.events_max_streams,
            claim_seconds=claim_seconds(heartbeat),
        )
    except events.TicketRefused:
        raise unauthorized(
            token_sent=True, detail="The ticket is used, expired, unknown or for another user"
        ) from None
    refuse_user(opening.status)
    if not opening.claimed:
        raise Problem(
            429,
            f"This user has {svc.settings.events_max_streams} event streams open already",
            headers={"Retry-After": str(math.ceil(heartbeat))},
        )
    position = start.position if start is not None else opening.feed_head
    return EventStream(svc, svc.events, opening.caller, stream_id, position, opening.reminder_head)
