"""/metrics: the service's figures for Prometheus (todo_api/metrics.py), routed only when
METRICS is on. No token: operators keep it off the public internet."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from todo_api import metrics
from todo_api.openapi import Reply, operation
from todo_api.services import services


@operation(
    operation_id="metrics",
    summary="Prometheus metrics, summed over every worker process (when METRICS is on)",
    tag="platform",
    replies=(
        Reply(
            200,
            "Requests by method, route template and status; request durations; database pool "
            "and password-hashing use; failed and throttled logins.",
            media_type="text/plain",
            schema={"type": "string"},
        ),
    ),
    secured=False,
)
async def metrics_text(request: Request) -> Response:
    svc = services(request)
    body = metrics.exposition(svc.db, svc.hasher)
    return Response(body, headers={"Content-Type": metrics.CONTENT_TYPE})
