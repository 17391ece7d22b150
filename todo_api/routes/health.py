"""Liveness (no database) and readiness (the database answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from todo_api.db.health import ping
from todo_api.models.common import StatusOut
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse
from todo_api.services import services


@operation(
    operation_id="health",
    summary="Liveness: the process runs (no database call)",
    tag="platform",
    replies=(Reply(200, "Alive.", StatusOut),),
    secured=False,
)
async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@operation(
    operation_id="ready",
    summary="Readiness: the database answers",
    tag="platform",
    replies=(Reply(200, "Ready.", StatusOut),),
    errors=(503,),
    secured=False,
)
async def ready(request: Request) -> Response:
    await ping(services(request).db)
    return JSONResponse({"status": "ready"})
