"""The floor: the least a server can do to answer the task workloads. The same SQL files and the
same JSON, on Starlette and asyncpg, with no authentication, no validation, no error handling,
no logging. The service is measured as a ratio to this, in the same run.

Run by the benchmark as `uvicorn bench.floor:app`, with DATABASE_URL set."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.workloads import TIMED_TASK, TIMED_UPDATE, session_for
from todo_api.auth.tokens import issue_token, new_refresh_token, refresh_token_hash
from todo_api.caller import Caller
from todo_api.db.queries import QUERIES
from todo_api.db.tasks import NO_SCHEDULE, SORTS, Filters, PageRequest, page_statement
from todo_api.models.auth import USER_FIELDS
from todo_api.models.tasks import PAGE_LIMIT_DEFAULT, TASK_FIELDS, TaskCreate, TaskUpdate
from todo_api.models.time import known_reminder_fields
from todo_api.payloads import validated
from todo_api.schedules import given_schedule, plan_create, plan_unread, stored

SQL = QUERIES
SECRET = os.environ.get("JWT_SECRET", "floor-secret-that-is-long-enough-0123456789")
ACCESS_TTL = 3600
REFRESH_TTL = 2_592_000


def unconditional(user_id: str) -> dict[str, Any]:
    """What the service's statements take besides the work: the caller (the user and the
    session the benchmark seeded for them) and no If-Match."""
    return {**Caller(user_id, session_for(user_id)).params, "if_match": None}


pool: Any = None

# The time workloads' schedules (issue 19), planned once here as the service plans them for each
# request (todo_api/schedules.py), for seeded users in UTC: the floor sends the same statements
# with the same values, and the difference to the service is its Python layer.
_TIMED_BODY = validated(TaskCreate, known_reminder_fields(dict(TIMED_TASK)))
TIMED_CREATE = stored(plan_create(_TIMED_BODY, "UTC"), "UTC", None)
_TIMED_CHANGE = validated(TaskUpdate, known_reminder_fields(dict(TIMED_UPDATE)))
assert _TIMED_BODY.due_date is not None and _TIMED_CHANGE.due_date is not None
TIMED_CREATE_DUE = _TIMED_BODY.due_date.isoformat()  # dates travel as text (task_insert.sql)
TIMED_UPDATE_DUE = _TIMED_CHANGE.due_date.isoformat()
_TIMED_GIVEN = given_schedule(
    {n: getattr(_TIMED_CHANGE, n) for n in _TIMED_CHANGE.model_fields_set}
)
TIMED_UPDATE_SCHEDULE = stored(plan_unread(_TIMED_GIVEN, "UTC"), "UTC", None, tuple(_TIMED_GIVEN))


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_UTC_Z)
    return Response(body, status, headers, media_type="application/json")


def _task(row: Any) -> dict[str, Any]:
    return {name: row[name] for name in TASK_FIELDS}


async def tasks(request: Request) -> Response:
    user_id = request.path_params["user_id"]
    if request.method == "POST":
        key = request.headers.get("idempotency-key")
        if key is not None:
            return await create_idempotently(request, user_id, key)
        body = orjson.loads(await request.body())
        timed = "due_time" in body  # create_timed: TIMED_TASK
        row = await pool.fetchrow(
            *SQL["task_insert"](
                **unconditional(user_id),
                title=body["title"],
                description=body.get("description"),
                completed=False,
                due_date=TIMED_CREATE_DUE if timed else None,
                priority="none",
                tags=[],
                list_id=None,
                **(TIMED_CREATE if timed else NO_SCHEDULE).params,
            )
        )
        return _json(_task(row), 201)
    q = request.query_params
    sort = q.get("sort", "created")
    order: Any = q.get("order", SORTS[sort].default_order)
    overdue = {"true": True, "false": False}.get(q.get("overdue", ""))
    today = None
    if overdue is not None:
        today = datetime.now(UTC).astimezone(ZoneInfo(q.get("tz", "UTC"))).date()
    limit = int(q.get("limit", PAGE_LIMIT_DEFAULT))
    filters = Filters(
        completed={"completed": True, "pending": False}.get(q.get("status", "all")),
        search=q.get("q"),
        tags=q.getlist("tag"),
        overdue=overdue,
        today=today,
        list_id=int(q["list"]) if "list" in q else None,
    )
    caller = Caller(user_id, session_for(user_id))
    records = await pool.fetch(*page_statement(caller, filters, PageRequest(sort, order, limit)))
    rows = [_task(r) for r in records if r["id"] is not None][:limit]
    return _json(rows, headers={"X-Total-Count": str(records[0]["total"])})


async def task(request: Request) -> Response:
    user_id, task_id = request.path_params["user_id"], int(request.path_params["task_id"])
    if request.method == "GET":
        row = await pool.fetchrow(*SQL["task_get"](**unconditional(user_id), task_id=task_id))
        etag = f'"{row["version"]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
    else:
        body = orjson.loads(await request.body())
        timed = "due_time" in body  # update_timed: TIMED_UPDATE; update: a title
        row = await pool.fetchrow(
            *SQL["task_update"](
                **unconditional(user_id),
                task_id=task_id,
                set_title=not timed,
                title=body.get("title"),
                set_description=False,
                description=None,
                completed=None,
                set_due_date=timed,
                due_date=TIMED_UPDATE_DUE if timed else None,
                priority=None,
                tags=None,
                list_id=None,
                set_schedule=timed,  # else the schedule left as it is (issue 19)
                **(TIMED_UPDATE_SCHEDULE if timed else NO_SCHEDULE).params,
            )
        )
    return _json(_task(row))


async def create_idempotently(request: Request, user_id: str, key: str) -> Response:
    """The service's statements for a create with an Idempotency-Key, in one transaction."""
    raw = await request.body()
    body = orjson.loads(raw)
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchrow(*SQL["idempotency_claim"](user_id=user_id, key=key))
        await conn.fetchrow(*SQL["idempotency_kept"](**unconditional(user_id), key=key))
        row = await conn.fetchrow(
            *SQL["task_insert"](
                **unconditional(user_id),
                title=body["title"],
                description=None,
                completed=False,
                due_date=None,
                priority="none",
                tags=[],
                list_id=None,
                **NO_SCHEDULE.params,  # no due time, recurrence or reminders (issue 19)
            )
        )
        response = _json(_task(row), 201)
        await conn.fetchrow(
            *SQL["idempotency_store"](
                user_id=user_id,
                key=key,
                request=hashlib.sha256(raw).digest(),
                status=201,
                headers="{}",
                body=bytes(response.body),
            )
        )
    return response


async def changes(request: Request) -> Response:
    """The feed for a client whose token is past every change (the service's statement)."""
    user_id = request.path_params["user_id"]
    records = await pool.fetch(
        *SQL["sync_changes"](
            **unconditional(user_id),
            after_seq=2**62,
            after_id=0,
            limit=501,
            history_days=30,
        )
    )
    rows = [_task(r) for r in records if r["id"] is not None]
    return _json({"changes": rows, "next": request.query_params["since"], "more": False})


async def complete(request: Request) -> Response:
    user_id, task_id = request.path_params["user_id"], int(request.path_params["task_id"])
    row = await pool.fetchrow(
        *SQL["task_set_completed"](**unconditional(user_id), task_id=task_id, completed=None)
    )
    return _json(_task(row))


async def refresh(request: Request) -> Response:
    """The service's statement for a refresh, and the tokens it answers with."""
    presented = orjson.loads(await request.body())["refresh_token"]
    token, token_hash = new_refresh_token()
    presented_hash = refresh_token_hash(presented)
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchrow(*SQL["session_lock"](token_hash=presented_hash))
        row = await conn.fetchrow(
            *SQL["session_refresh"](
                token_hash=presented_hash,
                new_hash=token_hash,
                refresh_ttl_seconds=REFRESH_TTL,
            )
        )
    user = {name: row[name] for name in USER_FIELDS}
    caller = Caller(row["id"], row["session_id"])
    return _json(
        {
            "access_token": issue_token(SECRET, caller, ACCESS_TTL),
            "token_type": "bearer",
            "expires_in": ACCESS_TTL,
            "refresh_token": token,
            "refresh_expires_in": row["refresh_expires_in"],
            "user": user,
        }
    )


async def move(request: Request) -> Response:
    user_id, task_id = request.path_params["user_id"], int(request.path_params["task_id"])
    after = orjson.loads(await request.body())["after"]
    row = await pool.fetchrow(
        *SQL["task_move"](**unconditional(user_id), task_id=task_id, after_id=after, list_id=None)
    )
    return _json(_task(row))


async def clear_completed(request: Request) -> Response:
    row = await pool.fetchrow(
        *SQL["tasks_clear_completed"](**unconditional(request.path_params["user_id"]))
    )
    return _json({"deleted": row["deleted"]})


async def tags(request: Request) -> Response:
    records = await pool.fetch(*SQL["tasks_tags"](**unconditional(request.path_params["user_id"])))
    return _json(
        [{"name": r["name"], "count": r["count"]} for r in records if r["name"] is not None]
    )


async def health(request: Request) -> Response:
    """What the benchmark waits for before it starts (todo_api.testing.Server)."""
    return Response()


def floor_app(handlers: ModuleType) -> Starlette:
    """A floor's app: the routes the workloads use, each served by the function of that name in
    `handlers` (this module, or bench/plain.py), whose global `pool` the lifespan opens."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=10)
        vars(handlers)["pool"] = pool  # the module global its handlers read
        yield
        await pool.close()

    h = handlers
    return Starlette(
        routes=[
            Route("/api/auth/refresh", h.refresh, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/api/{user_id}/tags", h.tags, methods=["GET"]),
            Route("/api/{user_id}/tasks/changes", h.changes, methods=["GET"]),
            Route("/api/{user_id}/tasks/clear-completed", h.clear_completed, methods=["POST"]),
            Route("/api/{user_id}/tasks", h.tasks, methods=["GET", "POST"]),
            Route("/api/{user_id}/tasks/{task_id}", h.task, methods=["GET", "PUT"]),
            Route("/api/{user_id}/tasks/{task_id}/complete", h.complete, methods=["PATCH"]),
            Route("/api/{user_id}/tasks/{task_id}/move", h.move, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


app = floor_app(sys.modules[__name__])
