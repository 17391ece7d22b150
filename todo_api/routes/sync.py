"""GET /api/{user_id}/tasks/changes: the change feed, for clients that keep a copy of their
tasks. A client applies every change and calls again with `next`: at once while `more`, later
otherwise; its copy then equals the server's tasks, whatever wrote meanwhile."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from todo_api.db import sync
from todo_api.models.sync import ChangesOut, SyncQuery, change_json
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import AUTHORISED, refuse_user
from todo_api.routes.tasks import owner_of
from todo_api.services import services
from todo_api.sync_tokens import (
    START,
    ExpiredSyncToken,
    FeedPosition,
    InvalidSyncToken,
    ReadToken,
    SyncTokens,
)


def read_sync_token(tokens: SyncTokens, token: str, user_id: str, loc: list[str]) -> ReadToken:
    """The position a client's sync token names; 422 for one this service did not make for this
    user, 410 for one older than the history kept (the client starts over)."""
    try:
        return tokens.decode(token, user_id)
    except InvalidSyncToken as exc:
        error = {"loc": loc, "msg": str(exc), "type": "invalid_sync_token"}
        raise Problem(422, f"Invalid sync token: {exc}", errors=[error]) from None
    except ExpiredSyncToken as exc:
        raise Problem(410, f"The sync token is {exc}") from None


@operation(
    operation_id="taskChanges",
    summary="What changed since a sync token (all tasks without one)",
    tag="tasks",
    query=SyncQuery,
    replies=(Reply(200, "A page of changes, and the token to call again with.", ChangesOut),),
    errors=(410, 422, *AUTHORISED),
)
async def task_changes(request: Request) -> Response:
    caller = owner_of(request)
    params = validated(SyncQuery, dict(request.query_params), where="query")
    svc = services(request)
    position = START
    read: ReadToken | None = None
    if params.since is not None:
        read = read_sync_token(svc.sync_tokens, params.since, caller.user_id, ["query", "since"])
        position = read.position
    page = await sync.changes_after(
        svc.db,
        caller,
        change_seq=position.change_seq,
        task_id=position.task_id,
        limit=params.limit,
        history_days=svc.settings.sync_history_days,
    )
    refuse_user(page.owner)
    if page.rows:
        last = page.rows[-1]
        position = FeedPosition(last["change_seq"], last["id"])
    if not page.rows and params.since is not None and read is not None and read.still_fresh():
        next_token = params.since  # up to date, and its token is recent: the same one again
    else:
        next_token = svc.sync_tokens.encode(caller.user_id, position)
    body = {
        "changes": [change_json(row) for row in page.rows],
        "next": next_token,
        "more": page.more,
    }
    return JSONResponse(body)
