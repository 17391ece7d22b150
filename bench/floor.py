"""The floor: the least a server can do to answer the task workloads. The same SQL files and the
same JSON, on Starlette and asyncpg, with no authentication, no validation, no error handling,
no logging. The service is measured as a ratio to this, in the same run.

Run by the benchmark as `uvicorn bench.floor:app`, with DATABASE_URL set."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.workloads import session_for
from todo_api.auth.tokens import issue_token, new_refresh_token, refresh_token_hash
from todo_api.caller import Caller
from todo_api.db.queries import QUERIES
from todo_api.db.tasks import PAGES
from todo_api.models import TASK_FIELDS, USER_FIELDS

SQL = QUERIES
SECRET = os.environ.get("JWT_SECRET", "floor-secret-that-is-long-enough-0123456789")
ACCESS_TTL = 3600
REFRESH_TTL = 2_592_000


def unconditional(user_id: str) -> dict[str, Any]:
    """What the service's statements take besides the work: the caller (the user and the
    session the benchmark seeded for them) and no If-Match."""
    return {"user_id": user_id, "session_id": session_for(user_id), "if_match": None}


NO_FILTERS: dict[str, Any] = {
    "tags": None,
    "priorities": None,
    "due_after": None,
    "due_before": None,
    "overdue": None,
    "today": None,
    "after_key": None,
    "after_id": None,
}
pool: Any = None


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
        row = await pool.fetchrow(
            *SQL["task_insert"](
                **unconditional(user_id),
                title=body["title"],
                description=body.get("description"),
                completed=False,
                due_date=None,
                priority="none",
                tags=[],
            )
        )
        return _json(_task(row), 201)
    q = request.query_params
    sort, order = q.get("sort", "created"), q.get("order", "desc")
    completed = {"completed": True, "pending": False}.get(q.get("status", "all"))
    pattern = f"%{q['q']}%" if "q" in q else None
    limit = int(q.get("limit", "100"))
    records = await pool.fetch(
        *PAGES[sort, order, False](
            **NO_FILTERS,
            **unconditional(user_id),
            completed=completed,
            pattern=pattern,
            limit=limit + 1,
        )
    )
    rows = [_task(r) for r in records if r["id"] is not None][:limit]
    return _json(rows, headers={"X-Total-Count": str(records[0]["total"])})


async def task(request: Request) -> Response:
    user_id, task_id = request.path_params["user_id"], int(request.path_params["task_id"])
    if request.method == "GET":
        row = await pool.fetchrow(*SQL["task_get"](**unconditional(user_id), task_id=task_id))
    else:
        body = orjson.loads(await request.body())
        row = await pool.fetchrow(
            *SQL["task_update"](
                **unconditional(user_id),
                task_id=task_id,
                set_title=True,
                title=body["title"],
                set_description=False,
                description=None,
                completed=None,
                set_due_date=False,
                due_date=None,
                priority=None,
                tags=None,
            )
        )
    return _json(_task(row))


async def create_idempotently(request: Request, user_id: str, key: str) -> Response:
    """The service's statements for a create with an Idempotency-Key, in one transaction."""
    raw = await request.body()
    body = orjson.loads(raw)
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchrow(*SQL["idempotency_claim"](user_id=user_id, key=key))
        await conn.fetchrow(*SQL["idempotency_kept"](user_id=user_id, key=key))
        row = await conn.fetchrow(
            *SQL["task_insert"](
                **unconditional(user_id),
                title=body["title"],
                description=None,
                completed=False,
                due_date=None,
                priority="none",
                tags=[],
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


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=10)
    yield
    await pool.close()


app = Starlette(
    routes=[
        Route("/api/auth/refresh", refresh, methods=["POST"]),
        Route("/api/{user_id}/tasks/changes", changes, methods=["GET"]),
        Route("/api/{user_id}/tasks", tasks, methods=["GET", "POST"]),
        Route("/api/{user_id}/tasks/{task_id}", task, methods=["GET", "PUT"]),
        Route("/api/{user_id}/tasks/{task_id}/complete", complete, methods=["PATCH"]),
    ],
    lifespan=lifespan,
)
