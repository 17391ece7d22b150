"""The plain floor: the least any implementation of each route could do. Bare Starlette, asyncpg
and orjson, on a table of its own (`plain_tasks`, seeded with the same tasks as `tasks`, with one
index: its primary key (user_id, id)), one plain statement per request, no triggers, no caller
rule, no authentication, no validation, no error handling, no logging. The service is measured
as a ratio to it in the same run (README, Performance): where the same-SQL floor (bench/floor.py)
shows what the Python layer costs, this one shows what the whole design costs, database
included.

Run by the benchmark as `uvicorn bench.plain:app`, with DATABASE_URL set; its tables are made
from TABLES by bench/__main__.py, which fills them again from the seed before each load run."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bench.floor import floor_app
from todo_api.auth.tokens import issue_token, new_refresh_token, refresh_token_hash
from todo_api.caller import Caller

SECRET = os.environ.get("JWT_SECRET", "floor-secret-that-is-long-enough-0123456789")
ACCESS_TTL = 3600

COLUMNS = (
    "id, user_id, title, description, completed, completed_at, due_date, priority, tags, "
    "position, version, created_at, updated_at"
)
# The tables, made by the benchmark (psycopg, one statement each): tasks as the service's are,
# without constraints, triggers or any index but the primary key; and the keys a create with an
# Idempotency-Key records.
TABLES = (
    "CREATE SEQUENCE plain_tasks_id_seq",
    """CREATE TABLE plain_tasks (
        id bigint NOT NULL DEFAULT nextval('plain_tasks_id_seq'), user_id text NOT NULL,
        title text NOT NULL, description text, completed boolean NOT NULL DEFAULT false,
        completed_at timestamptz, due_date date, priority text NOT NULL DEFAULT 'none',
        tags text[] NOT NULL DEFAULT '{}', position text NOT NULL DEFAULT 'V',
        version integer NOT NULL DEFAULT 1, created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (user_id, id))""",
    "CREATE TABLE plain_keys (user_id text, key text, PRIMARY KEY (user_id, key))",
)
# The plain tables as the service's seeded tasks are (the same ids, so the same workloads).
RESTORE = (
    "TRUNCATE plain_tasks, plain_keys",
    f"""INSERT INTO plain_tasks ({COLUMNS})
        SELECT {COLUMNS.replace("priority", "priority::text")} FROM bench_seed_tasks""",
    "SELECT setval('plain_tasks_id_seq', (SELECT max(id) FROM plain_tasks))",
    "ANALYZE plain_tasks",
)

# Each list workload's sort (bench/workloads.py, LISTS): the ORDER BY a plain query would write.
ORDER_BY = {
    "created": "created_at DESC, id DESC",
    "due": "due_date ASC NULLS LAST, id",
    "position": "position",
    "title": "lower(title), id",
}
LIST = f"""SELECT {COLUMNS}, count(*) OVER () AS total FROM plain_tasks
WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)
  AND ($3::text IS NULL OR title ILIKE $3 OR description ILIKE $3)
  AND ($4::text[] IS NULL OR tags @> $4)
  AND ($5::date IS NULL OR (NOT completed AND due_date < $5))
ORDER BY {{}} LIMIT $6"""
LISTS = {sort: LIST.format(order_by) for sort, order_by in ORDER_BY.items()}
GET = f"SELECT {COLUMNS} FROM plain_tasks WHERE user_id = $1 AND id = $2"
CHANGES = f"""SELECT {COLUMNS} FROM plain_tasks WHERE user_id = $1 AND updated_at > $2
ORDER BY updated_at, id LIMIT 501"""
TAGS = """SELECT tag AS name, count(*) AS count FROM plain_tasks, unnest(tags) AS tag
WHERE user_id = $1 GROUP BY tag ORDER BY tag"""
UPDATE = f"""UPDATE plain_tasks SET title = $3, version = version + 1, updated_at = now()
WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"""
TOGGLE = f"""UPDATE plain_tasks SET completed = NOT completed,
    completed_at = CASE WHEN completed THEN NULL ELSE now() END,
    version = version + 1, updated_at = now()
WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"""
MOVE = f"""UPDATE plain_tasks
SET position = (SELECT position FROM plain_tasks WHERE user_id = $1 AND id = $3) || 'V',
    version = version + 1, updated_at = now()
WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"""
INSERT = f"INSERT INTO plain_tasks (user_id, title) VALUES ($1, $2) RETURNING {COLUMNS}"
INSERT_KEYED = f"""WITH k AS (INSERT INTO plain_keys VALUES ($1, $3) ON CONFLICT DO NOTHING
                   RETURNING user_id)
INSERT INTO plain_tasks (user_id, title) SELECT user_id, $2 FROM k RETURNING {COLUMNS}"""
CLEAR = """WITH gone AS (DELETE FROM plain_tasks WHERE user_id = $1 AND completed RETURNING 1)
SELECT count(*) FROM gone"""
# A refresh on the service's own session tables: the presented token spent and a new one
# stored in one statement (the least a single-use refresh token needs).
REFRESH = """WITH spent AS (
    UPDATE refresh_tokens SET used = true WHERE token_hash = $1 AND NOT used
    RETURNING session_id)
INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
SELECT $2, session_id, now() + interval '30 days' FROM spent
RETURNING session_id, (SELECT user_id FROM sessions WHERE id = session_id)"""

pool: Any = None


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_UTC_Z)
    return Response(body, status, headers, media_type="application/json")


def _task(row: Any) -> dict[str, Any]:
    return {
        "id": row[0], "user_id": row[1], "title": row[2], "description": row[3],
        "completed": row[4], "completed_at": row[5], "due_date": row[6], "priority": row[7],
        "tags": row[8], "position": row[9], "version": row[10], "created_at": row[11],
        "updated_at": row[12],
    }  # fmt: skip


async def tasks(request: Request) -> Response:
    user_id = request.path_params["user_id"]
    if request.method == "POST":
        body = orjson.loads(await request.body())
        key = request.headers.get("idempotency-key")
        if key is None:
            row = await pool.fetchrow(INSERT, user_id, body["title"])
        else:
            row = await pool.fetchrow(INSERT_KEYED, user_id, body["title"], key)
        return _json(_task(row), 201)
    q = request.query_params
    today = None
    if q.get("overdue") == "true":
        today = datetime.now(UTC).astimezone(ZoneInfo(q.get("tz", "UTC"))).date()
    search = q.get("q")
    records = await pool.fetch(
        LISTS[q.get("sort", "created")],
        user_id,
        {"completed": True, "pending": False}.get(q.get("status", "all")),
        f"%{search}%" if search else None,
        q.getlist("tag") or None,
        today,
        int(q.get("limit", 50)),
    )
    total = records[0]["total"] if records else 0
    return _json([_task(r) for r in records], headers={"X-Total-Count": str(total)})


async def task(request: Request) -> Response:
    user_id, task_id = request.path_params["user_id"], int(request.path_params["task_id"])
    if request.method == "GET":
        row = await pool.fetchrow(GET, user_id, task_id)
        etag = f'"{row["version"]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return _json(_task(row), headers={"ETag": etag})
    body = orjson.loads(await request.body())
    return _json(_task(await pool.fetchrow(UPDATE, user_id, task_id, body["title"])))


async def complete(request: Request) -> Response:
    user_id, task_id = request.path_params["user_id"], int(request.path_params["task_id"])
    return _json(_task(await pool.fetchrow(TOGGLE, user_id, task_id)))


async def move(request: Request) -> Response:
    user_id, task_id = request.path_params["user_id"], int(request.path_params["task_id"])
    after = orjson.loads(await request.body())["after"]
    return _json(_task(await pool.fetchrow(MOVE, user_id, task_id, after)))


async def changes(request: Request) -> Response:
    records = await pool.fetch(CHANGES, request.path_params["user_id"], datetime.now(UTC))
    since = request.query_params["since"]
    return _json({"changes": [_task(r) for r in records], "next": since, "more": False})


async def tags(request: Request) -> Response:
    records = await pool.fetch(TAGS, request.path_params["user_id"])
    return _json([{"name": r[0], "count": r[1]} for r in records])


async def clear_completed(request: Request) -> Response:
    deleted = await pool.fetchval(CLEAR, request.path_params["user_id"])
    return _json({"deleted": deleted})


async def refresh(request: Request) -> Response:
    presented = orjson.loads(await request.body())["refresh_token"]
    token, token_hash = new_refresh_token()
    row = await pool.fetchrow(REFRESH, refresh_token_hash(presented), token_hash)
    caller = Caller(row[1], row[0])
    return _json(
        {
            "access_token": issue_token(SECRET, caller, ACCESS_TTL),
            "token_type": "bearer",
            "expires_in": ACCESS_TTL,
            "refresh_token": token,
        }
    )


app = floor_app(sys.modules[__name__])
