"""Liveness (no database) and readiness (the database answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from todo_api.db.health import ping
from todo_api.payloads import JSONResponse
from todo_api.services import services


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    await ping(services(request).db)
    return JSONResponse({"status": "ready"})
