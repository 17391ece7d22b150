"""The task routes. Each first checks that the token's user is the path's user (else 403); the
SQL then touches only that user's rows, so another user's task is simply not found (404)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NoReturn

import asyncpg
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from todo_api import urls
from todo_api.auth.backend import require_user
from todo_api.caller import Caller
from todo_api.conditional import (
    if_match_versions,
    not_modified,
    task_etag,
    versioned,
    with_weak_etag,
)
from todo_api.cursors import CursorCodec, InvalidCursor
from todo_api.db import tasks, users
from todo_api.db.pool import Runner
from todo_api.dispatch import by_method
from todo_api.idempotency import idempotent
from todo_api.models.tasks import (
    LIST_PARAMETERS,
    UPDATABLE,
    DeletedOut,
    TagCount,
    TaskComplete,
    TaskCreate,
    TaskListQuery,
    TaskMove,
    TaskOut,
    TaskUpdate,
    task_json,
)
from todo_api.models.time import known_reminder_fields
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, json_object, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import AUTHORISED, refuse_user
from todo_api.schedules import (
    guessed_zone,
    owner_zone,
    plan_create,
    rewrite,
    scheduled,
    stored,
)
from todo_api.services import services

MAX_TASK_ID = 2**63 - 1
# A created task's id, for the document's links (create, then get, update, toggle, delete).
TASK_LINK = {"user_id": "$request.path.user_id", "task_id": "$response.body#/id"}
TASK_LINKS = {
    name: {"operationId": name, "parameters": TASK_LINK}
    for name in ("getTask", "updateTask", "completeTask", "moveTask", "deleteTask")
}
# Paths under /tasks/ that are not a task: `{task_id:task_id}` never matches them, so a method
# they do not allow is 405 from their own route rather than "task not found" (or 405 with a
# task's Allow list) from the task routes. ("changes" is the sync feed's.)
LITERAL_TASK_PATHS = ("clear-completed", "changes")


class TaskIdConvertor(Convertor[str]):
    """A path segment that is not one of LITERAL_TASK_PATHS; checked as an id by _task_id."""

    regex = "(?!(?:" + "|".join(map(re.escape, LITERAL_TASK_PATHS)) + ")(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("task_id", TaskIdConvertor())
_ROW_ID = re.compile(r"[1-9][0-9]{0,18}")


def owner_of(request: Request) -> Caller:
    """The caller, when the token's user is the path's user; else 401 or 403."""
    caller = require_user(request)
    if request.path_params["user_id"] != caller.user_id:
        raise Problem(403, "This token does not give access to another user's tasks")
    return caller


def path_id(request: Request, parameter: str, noun: str) -> int:
    """The row id in the path (a task's, a list's): anything but a positive 64-bit integer is
    404, as for a row that does not exist."""
    raw: str = request.path_params[parameter]
    if _ROW_ID.fullmatch(raw) and int(raw) <= MAX_TASK_ID:
        return int(raw)
    raise Problem(404, f"{noun} {raw} not found")


def _task_id(request: Request) -> int:
    return path_id(request, "task_id", "Task")


async def not_found(db: Runner, caller: Caller, noun: str, row_id: int | None) -> NoReturn:
    """No row came back: say why, the caller's status first; else 404."""
    refuse_user(await users.user_status(db, caller))
    raise Problem(404, f"{noun} {row_id} not found")


async def _not_found(db: Runner, caller: Caller, task_id: int | None) -> NoReturn:
    await not_found(db, caller, "Task", task_id)


async def _not_written(
    db: Runner, caller: Caller, task_id: int, if_match: list[int] | None
) -> NoReturn:
    """A write found no row: the caller may not act, the task is missing (404), or it exists
    at another version than If-Match named (412 with its current ETag; nothing changed)."""
    if if_match is not None:
        current = await tasks.get_task(db, caller, task_id)
        if current is not None:
            etag = task_etag(current["version"])
            detail = f"Task {task_id} has changed: its ETag is now {etag}"
            raise Problem(412, detail, headers={"ETag": etag})
    await _not_found(db, caller, task_id)


def _if_match(request: Request) -> list[int] | None:
    return if_match_versions(request.headers.get("if-match"))


def _list_refused(where: str, list_id: int | None) -> Problem:
    """422: `list_id` (in the body's `list_id` or the query's `list`) is not one of the
    caller's lists (another user's is not one either)."""
    name = "list" if where == "query" else "list_id"
    error = {"loc": [where, name], "msg": "Not one of this user's lists", "type": "unknown_list"}
    return Problem(422, f"Invalid request {where}: no list {list_id}", errors=[error])


def _task_response(
    row: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """One task, with its ETag."""
    return versioned(task_json(row), row["version"], status_code, headers)


async def insert(
    db: Runner, caller: Caller, body: TaskCreate, where: str = "body"
) -> asyncpg.Record:
    """Create the task the body describes (the route's and the agents' add_tasks alike)."""
    # The owner's zone only when due_at needs it (the zone last seen, else read); a zone
    # that is not theirs (any more): read it, and plan again.
    zone = None
    if body.due_time is not None and not body.time_zone:
        zone = guessed_zone(caller.user_id) or await owner_zone(db, caller)
    planned = plan_create(body, zone or "UTC")
    try:
        row = await tasks.insert_task(
            db,
            caller,
            body.title,
            body.description,
            planned.completed,
            planned.schedule.due_date,
            body.priority,
            body.tags,
            list_id=body.list_id,
            schedule=stored(planned, zone, None),
        )
    except tasks.ListNotFound:
        raise _list_refused(where, body.list_id) from None
    if row is None and zone is not None and zone != await owner_zone(db, caller):
        return await insert(db, caller, body, where)
    if row is None:
        await _not_found(db, caller, None)
    return row


@operation(
    operation_id="createTask",
    summary="Create a task",
    tag="tasks",
    body=TaskCreate,
    replies=(Reply(201, "The task.", TaskOut, headers=("Location", "ETag"), links=TASK_LINKS),),
    errors=(400, 409, 413, 415, 422, *AUTHORISED),
    request_headers=("Idempotency-Key",),
)
async def create_task(request: Request) -> Response:
    caller = owner_of(request)
    body = validated(TaskCreate, known_reminder_fields(await json_object(request)))

    async def create(db: Runner) -> Response:
        row = await insert(db, caller, body)
        location = urls.path("api", caller.user_id, "tasks", row["id"])
        return _task_response(row, 201, {"Location": location})

    return await idempotent(request, services(request).db, caller, create)


@operation(
    operation_id="listTasks",
    summary="List tasks, one keyset page at a time",
    tag="tasks",
    query=TaskListQuery,
    replies=(
        Reply(
            200,
            "A page of tasks.",
            TaskOut,
            many=True,
            headers=("X-Total-Count", "X-Total-Count-Exact", "Link", "ETag"),
        ),
        Reply(304, "If-None-Match held the page's ETag.", headers=("ETag",)),
    ),
    errors=(422, *AUTHORISED),
    request_headers=("If-None-Match",),
)
async def list_tasks(request: Request) -> Response:
    caller = owner_of(request)
    query: dict[str, Any] = dict(request.query_params)
    for name in LIST_PARAMETERS:  # repeatable: every value, in order
        query.pop(name, None)
        values = request.query_params.getlist(name)
        if values:
            query[name] = values
    params = validated(TaskListQuery, query, where="query")
    svc = services(request)
    page, cursor = await task_page(svc.db, svc.cursors, caller, params)
    headers = {"X-Total-Count": str(page.total)}
    if not page.exact:
        headers["X-Total-Count-Exact"] = "false"
    if cursor is not None:
        headers["Link"] = f'<{urls.this_request(request, cursor=cursor)}>; rel="next"'
    return with_weak_etag(request, [task_json(row) for row in page.rows], headers)


async def task_page(
    db: Runner, cursors: CursorCodec, caller: Caller, params: TaskListQuery, where: str = "query"
) -> tuple[tasks.Page, str | None]:
    """One page of the listing (the route's and the agents' find_tasks alike), and the cursor
    of the next page (None: the last)."""
    order = params.order or tasks.SORTS[params.sort].default_order
    key_type = tasks.SORTS[params.sort].key_type
    after = None
    if params.cursor is not None:
        try:
            after = cursors.decode(params.cursor, params.sort, order, key_type)
        except InvalidCursor as exc:
            error = {"loc": [where, "cursor"], "msg": str(exc), "type": "invalid_cursor"}
            raise Problem(422, f"Invalid cursor: {exc}", errors=[error]) from None
    now = datetime.now(UTC)
    today = None
    if params.overdue is not None:  # today in `tz`, by default in the user's zone
        zone = params.tz or await owner_zone(db, caller)
        today = params.today(now, zone or "UTC")
    filters = tasks.Filters(
        completed=params.completed,
        list_id=params.list_id,
        search=params.q,
        tags=params.tag,
        priorities=params.priority,
        due_after=params.due_after,
        due_before=params.due_before,
        overdue=params.overdue_flag,
        today=today,
        now=now,
    )
    request_page = tasks.PageRequest(params.sort, order, params.limit, after)
    page = await tasks.list_tasks(db, caller, filters, request_page)
    refuse_user(page.owner)
    if not page.list_known:
        raise _list_refused(where, params.list_id)
    if not page.has_more:
        return page, None
    last = page.rows[-1]
    key = tasks.cursor_key(params.sort, last)
    return page, cursors.encode(params.sort, order, key_type, key, last["id"])


@operation(
    operation_id="getTask",
    summary="Get a task",
    tag="tasks",
    replies=(
        Reply(200, "The task.", TaskOut, headers=("ETag",)),
        Reply(304, "If-None-Match held the task's ETag.", headers=("ETag",)),
    ),
    errors=(404, *AUTHORISED),
    request_headers=("If-None-Match",),
)
async def get_task(request: Request) -> Response:
    caller = owner_of(request)
    task_id = _task_id(request)
    db = services(request).db
    row = await tasks.get_task(db, caller, task_id)
    if row is None:
        await _not_found(db, caller, task_id)
    return not_modified(request, task_etag(row["version"])) or _task_response(row)


@operation(
    operation_id="updateTask",
    summary="Change any of the task's fields (completing a recurring task advances it)",
    tag="tasks",
    body=TaskUpdate,
    replies=(Reply(200, "The updated task.", TaskOut, headers=("ETag",)),),
    errors=(400, 404, 412, 413, 415, 422, *AUTHORISED),
    request_headers=("If-Match",),
)
async def update_task(request: Request) -> Response:
    caller = owner_of(request)
    task_id = _task_id(request)
    body = validated(TaskUpdate, known_reminder_fields(await json_object(request)))
    row = await update(services(request).db, caller, task_id, body, _if_match(request))
    return _task_response(row)


async def update(
    db: Runner,
    caller: Caller,
    task_id: int,
    body: TaskUpdate,
    if_match: list[int] | None,
    where: str = "body",
) -> asyncpg.Record:
    """Change the fields the body gives (the route's and the agents' update_task alike)."""
    given = body.model_fields_set
    changes: dict[str, Any] = {name: getattr(body, name) for name in given & set(UPDATABLE)}
    try:
        if scheduled(changes):
            row = await rewrite(db, caller, task_id, changes, changes.get("completed"), if_match)
        else:
            row = await tasks.update_task(db, caller, task_id, **changes, if_match=if_match)
            if row is None and changes.get("completed"):  # perhaps a recurring task: it advances
                row = await rewrite(db, caller, task_id, changes, True, if_match)
    except tasks.ListNotFound:
        raise _list_refused(where, body.list_id) from None
    if row is None:
        await _not_written(db, caller, task_id, if_match)
    return row


@operation(
    operation_id="completeTask",
    summary='Flip completed, or set it with {"completed": true|false}',
    tag="tasks",
    body=TaskComplete,
    body_required=False,
    replies=(Reply(200, "The task.", TaskOut, headers=("ETag",)),),
    errors=(400, 404, 409, 412, 413, 415, 422, *AUTHORISED),
    request_headers=("If-Match", "Idempotency-Key"),
)
async def complete_task(request: Request) -> Response:
    caller = owner_of(request)
    task_id = _task_id(request)
    body = validated(TaskComplete, await json_object(request, optional=True))
    if_match = _if_match(request)

    async def complete(db: Runner) -> Response:
        row = await set_completed(db, caller, task_id, body.completed, if_match)
        if row is None:
            await _not_written(db, caller, task_id, if_match)
        return _task_response(row)

    return await idempotent(request, services(request).db, caller, complete)


async def set_completed(
    db: Runner, caller: Caller, task_id: int, completed: bool | None, if_match: list[int] | None
) -> asyncpg.Record | None:
    """Set completed (None: flip it), advancing a recurring task instead (the route's and the
    agents' complete_tasks alike); None when no such task of the caller's is at If-Match."""
    row = await tasks.set_completed(db, caller, task_id, completed, if_match=if_match)
    if row is not None and row["to_plan"]:  # a pending recurring task: it advances
        flip = completed is None
        row = await rewrite(db, caller, task_id, {}, completed, if_match, flip=flip, current=row)
    return row


@operation(
    operation_id="deleteTask",
    summary="Delete a task",
    tag="tasks",
    replies=(Reply(204, "Deleted."),),
    errors=(404, 412, *AUTHORISED),
    request_headers=("If-Match",),
)
async def delete_task(request: Request) -> Response:
    caller = owner_of(request)
    task_id = _task_id(request)
    db = services(request).db
    if_match = _if_match(request)
    if not await tasks.delete_task(db, caller, task_id, if_match=if_match):
        await _not_written(db, caller, task_id, if_match)
    return Response(status_code=204)


@operation(
    operation_id="moveTask",
    summary="Put a task right after another task of its list (or of list_id), or on top",
    tag="tasks",
    body=TaskMove,
    replies=(
        Reply(200, "The moved task (only its position changed).", TaskOut, headers=("ETag",)),
    ),
    errors=(400, 404, 412, 413, 415, 422, *AUTHORISED),
    request_headers=("If-Match",),
)
async def move_task(request: Request) -> Response:
    caller = owner_of(request)
    task_id = _task_id(request)
    body = validated(TaskMove, await json_object(request))
    row = await move(services(request).db, caller, task_id, body, _if_match(request))
    return _task_response(row)


async def move(
    db: Runner,
    caller: Caller,
    task_id: int,
    body: TaskMove,
    if_match: list[int] | None,
    where: str = "body",
) -> asyncpg.Record:
    """Move the task as the body says (the route's and the agents' move_task alike)."""
    try:
        row = await tasks.move_task(
            db, caller, task_id, body.after, list_id=body.list_id, if_match=if_match
        )
    except tasks.ListNotFound:
        if body.list_id is not None:
            raise _list_refused(where, body.list_id) from None
        # Its own list was deleted while the move waited for the user's lock: the task went
        # with it, so it is not found (never a 422 for a list the client did not name).
        row = None
    except tasks.MoveRefused:
        detail = f"Task {task_id} cannot be moved after task {body.after}"
        msg = "Not another task of this user's in that list"
        error = {"loc": [where, "after"], "msg": msg, "type": "invalid_after"}
        raise Problem(422, f"Invalid request {where}: {detail}", errors=[error]) from None
    if row is None:
        await _not_written(db, caller, task_id, if_match)
    return row


@operation(
    operation_id="clearCompleted",
    summary="Delete every completed task of the user",
    tag="tasks",
    replies=(Reply(200, "How many tasks were deleted.", DeletedOut),),
    errors=AUTHORISED,
)
async def clear_completed(request: Request) -> Response:
    caller = owner_of(request)
    owner, deleted = await tasks.clear_completed(services(request).db, caller)
    refuse_user(owner)
    return JSONResponse({"deleted": deleted})


@operation(
    operation_id="listTags",
    summary="Every tag on the user's tasks, with how many tasks carry it, by name",
    tag="tasks",
    replies=(Reply(200, "The tags, in code-point order of their names.", TagCount, many=True),),
    errors=AUTHORISED,
)
async def list_tags(request: Request) -> Response:
    caller = owner_of(request)
    owner, counts = await tasks.tag_counts(services(request).db, caller)
    refuse_user(owner)
    return JSONResponse([{"name": name, "count": count} for name, count in counts])


# /api/{user_id}/tasks: one route, so a wrong method gets 405 with the full Allow list.
task_collection = by_method(get=list_tasks, post=create_task)
# /api/{user_id}/tasks/{task_id}
task_item = by_method(get=get_task, put=update_task, delete=delete_task)
