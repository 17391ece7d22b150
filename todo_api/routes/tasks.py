"""The task routes. Each first checks that the token's user is the path's user (else 403); the
SQL then touches only that user's rows, so another user's task is simply not found (404)."""

from __future__ import annotations

import re
from typing import Any, NoReturn

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response

from todo_api.auth.backend import require_user, unauthorized
from todo_api.cursors import InvalidCursor
from todo_api.db import tasks, users
from todo_api.db.pool import Database
from todo_api.models import TaskComplete, TaskCreate, TaskListQuery, TaskUpdate, task_json
from todo_api.payloads import JSONResponse, json_object, validated
from todo_api.problems import Problem
from todo_api.routes.auth import INACTIVE
from todo_api.services import services

MAX_TASK_ID = 2**63 - 1
_TASK_ID = re.compile(r"[1-9][0-9]{0,18}")


def _owner(request: Request) -> str:
    user_id = require_user(request)
    if request.path_params["user_id"] != user_id:
        raise Problem(403, "This token does not give access to another user's tasks")
    return user_id


def _task_id(request: Request) -> int:
    raw: str = request.path_params["task_id"]
    if _TASK_ID.fullmatch(raw) and int(raw) <= MAX_TASK_ID:
        return int(raw)
    raise Problem(404, f"Task {raw} not found")


def _refuse_user(active: bool | None) -> None:
    """A 401 or 403 when the token's user is gone or inactive; nothing when active."""
    if active is None:
        raise unauthorized(token_sent=True, detail="The token's user no longer exists")
    if not active:
        raise Problem(403, INACTIVE)


async def _not_found(db: Database, user_id: str, task_id: int | None) -> NoReturn:
    """No row came back: say why, the user's status first."""
    status = await users.user_status(db, user_id)
    _refuse_user(None if status is users.UserStatus.MISSING else status is users.UserStatus.ACTIVE)
    raise Problem(404, f"Task {task_id} not found")


def _task_response(
    row: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(task_json(row), status_code=status_code, headers=headers)


async def create_task(request: Request) -> Response:
    user_id = _owner(request)
    body = validated(TaskCreate, await json_object(request))
    db = services(request).db
    row = await tasks.insert_task(db, user_id, body.title, body.description, body.completed)
    if row is None:
        await _not_found(db, user_id, None)
    location = f"/api/{user_id}/tasks/{row['id']}"
    return _task_response(row, 201, {"Location": location})


async def list_tasks(request: Request) -> Response:
    user_id = _owner(request)
    params = validated(TaskListQuery, dict(request.query_params), where="query")
    svc = services(request)
    after = None
    if params.cursor is not None:
        try:
            after = svc.cursors.decode(params.cursor, params.sort, params.direction)
        except InvalidCursor as exc:
            error = {"loc": ["query", "cursor"], "msg": str(exc), "type": "invalid_cursor"}
            raise Problem(422, f"Invalid cursor: {exc}", errors=[error]) from None
    page = await tasks.list_tasks(
        svc.db,
        user_id,
        completed=params.completed,
        search=params.q,
        sort=params.sort,
        order=params.direction,
        limit=params.limit,
        after=after,
    )
    _refuse_user(page.owner_active)
    headers = {"X-Total-Count": str(page.total)}
    if page.has_more:
        last = page.rows[-1]
        key = last[tasks.SORT_KEY[params.sort]]
        cursor = svc.cursors.encode(params.sort, params.direction, key, last["id"])
        headers["Link"] = f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'
    return JSONResponse([task_json(row) for row in page.rows], headers=headers)


async def get_task(request: Request) -> Response:
    user_id = _owner(request)
    task_id = _task_id(request)
    db = services(request).db
    row = await tasks.get_task(db, user_id, task_id)
    if row is None:
        await _not_found(db, user_id, task_id)
    return _task_response(row)


async def update_task(request: Request) -> Response:
    user_id = _owner(request)
    task_id = _task_id(request)
    body = validated(TaskUpdate, await json_object(request))
    given = body.model_fields_set
    changes: dict[str, Any] = {
        name: getattr(body, name) for name in given & {"title", "description", "completed"}
    }
    db = services(request).db
    row = await tasks.update_task(db, user_id, task_id, **changes)
    if row is None:
        await _not_found(db, user_id, task_id)
    return _task_response(row)


async def complete_task(request: Request) -> Response:
    user_id = _owner(request)
    task_id = _task_id(request)
    body = validated(TaskComplete, await json_object(request, optional=True))
    db = services(request).db
    row = await tasks.set_completed(db, user_id, task_id, body.completed)
    if row is None:
        await _not_found(db, user_id, task_id)
    return _task_response(row)


async def delete_task(request: Request) -> Response:
    user_id = _owner(request)
    task_id = _task_id(request)
    db = services(request).db
    if not await tasks.delete_task(db, user_id, task_id):
        await _not_found(db, user_id, task_id)
    return Response(status_code=204)


class TaskCollection(HTTPEndpoint):
    """/api/{user_id}/tasks: one route, so a wrong method gets 405 with the full Allow list."""

    get = staticmethod(list_tasks)
    post = staticmethod(create_task)


class TaskItem(HTTPEndpoint):
    """/api/{user_id}/tasks/{task_id}."""

    get = staticmethod(get_task)
    put = staticmethod(update_task)
    delete = staticmethod(delete_task)
