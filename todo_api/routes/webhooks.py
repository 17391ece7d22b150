"""The webhook routes: a user's endpoints for signed task and reminder events, their secrets,
and the deliveries log. Each first checks that the token's user is the path's user (else 403);
the SQL then touches only that user's webhooks, so another user's is simply not found (404).
Deliveries themselves are made by todo_api/webhook_worker.py."""

from __future__ import annotations

import re
from typing import Any, NoReturn

from starlette.requests import Request
from starlette.responses import Response

from todo_api.caller import Caller
from todo_api.db import users, webhooks
from todo_api.db.pool import Database, Runner
from todo_api.dispatch import by_method
from todo_api.models.webhooks import (
    MAX_WEBHOOKS,
    DeliveriesQuery,
    DeliveryOut,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
    delivery_json,
    new_secret,
    webhook_json,
)
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, json_object, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import AUTHORISED, refuse_user
from todo_api.routes.tasks import owner_of
from todo_api.services import services

MAX_WEBHOOK_ID = 2**63 - 1
_WEBHOOK_ID = re.compile(r"[1-9][0-9]{0,18}")


def _target(request: Request) -> tuple[Caller, int, Database]:
    """The caller (when the path's user is theirs), the path's webhook id, the database."""
    return owner_of(request), _webhook_id(request), services(request).db


def _webhook_id(request: Request) -> int:
    raw: str = request.path_params["webhook_id"]
    if _WEBHOOK_ID.fullmatch(raw) and int(raw) <= MAX_WEBHOOK_ID:
        return int(raw)
    raise Problem(404, f"Webhook {raw} not found")


async def _not_found(db: Runner, caller: Caller, webhook_id: int) -> NoReturn:
    """No row came back: say why, the caller's status first."""
    refuse_user(await users.user_status(db, caller))
    raise Problem(404, f"Webhook {webhook_id} not found")


async def _webhook_response(
    db: Runner, caller: Caller, webhook_id: int, row: Any, *, secret: bool = False
) -> Response:
    """The webhook a statement returned, or why none came back."""
    if row is None:
        await _not_found(db, caller, webhook_id)
    return JSONResponse(webhook_json(row, secret=secret))


def _url_rules(request: Request) -> dict[str, Any]:
    """What the url rules depend on: the settings (models/webhooks.py reads them)."""
    settings = services(request).settings
    return {
        "allow_http": settings.webhook_allow_http,
        "allow_private": settings.webhook_allow_private,
    }


@operation(
    operation_id="createWebhook",
    summary="Add a webhook: signed events POSTed to a url (the secret is shown only now)",
    tag="webhooks",
    body=WebhookCreate,
    replies=(
        Reply(201, "The webhook, with its secret.", WebhookWithSecret, headers=("Location",)),
    ),
    errors=(400, 413, 415, 422, *AUTHORISED),
)
async def create_webhook(request: Request) -> Response:
    caller = owner_of(request)
    body = validated(WebhookCreate, await json_object(request), context=_url_rules(request))
    db = services(request).db
    try:
        status, row = await webhooks.insert_webhook(
            db,
            caller,
            url=body.url,
            events=body.events,
            description=body.description,
            secret=new_secret(),
            max_webhooks=MAX_WEBHOOKS,
        )
    except webhooks.TooManyWebhooks:
        msg = f"At most {MAX_WEBHOOKS} webhooks a user"
        error = {"loc": ["body"], "msg": msg, "type": "too_many_webhooks"}
        raise Problem(422, f"Invalid request body: {msg}", errors=[error]) from None
    refuse_user(status)
    assert row is not None
    location = f"/api/{caller.user_id}/webhooks/{row['id']}"
    return JSONResponse(
        webhook_json(row, secret=True), status_code=201, headers={"Location": location}
    )


@operation(
    operation_id="listWebhooks",
    summary="The user's webhooks, oldest first (no secrets)",
    tag="webhooks",
    replies=(Reply(200, "The webhooks.", WebhookOut, many=True),),
    errors=AUTHORISED,
)
async def list_webhooks(request: Request) -> Response:
    caller = owner_of(request)
    found = await webhooks.list_webhooks(services(request).db, caller)
    refuse_user(found.owner)
    return JSONResponse([webhook_json(row) for row in found.rows])


@operation(
    operation_id="getWebhook",
    summary="Get a webhook (no secret)",
    tag="webhooks",
    replies=(Reply(200, "The webhook.", WebhookOut),),
    errors=(404, *AUTHORISED),
)
async def get_webhook(request: Request) -> Response:
    caller, webhook_id, db = _target(request)
    row = await webhooks.get_webhook(db, caller, webhook_id)
    return await _webhook_response(db, caller, webhook_id, row)


@operation(
    operation_id="updateWebhook",
    summary="Change any of url, events, description, active",
    tag="webhooks",
    body=WebhookUpdate,
    replies=(Reply(200, "The webhook.", WebhookOut),),
    errors=(400, 404, 413, 415, 422, *AUTHORISED),
)
async def update_webhook(request: Request) -> Response:
    caller, webhook_id, db = _target(request)
    body = validated(WebhookUpdate, await json_object(request), context=_url_rules(request))
    row = await webhooks.update_webhook(
        db,
        caller,
        webhook_id,
        url=body.url,
        events=body.events,
        set_description="description" in body.model_fields_set,
        description=body.description,
        active=body.active,
    )
    return await _webhook_response(db, caller, webhook_id, row)


@operation(
    operation_id="deleteWebhook",
    summary="Delete a webhook; its pending deliveries are never sent",
    tag="webhooks",
    replies=(Reply(204, "Deleted."),),
    errors=(404, *AUTHORISED),
)
async def delete_webhook(request: Request) -> Response:
    caller, webhook_id, db = _target(request)
    if not await webhooks.delete_webhook(db, caller, webhook_id):
        await _not_found(db, caller, webhook_id)
    return Response(status_code=204)


@operation(
    operation_id="rotateWebhookSecret",
    summary="A new signing secret (shown only now); the old one stops signing at once",
    tag="webhooks",
    replies=(Reply(200, "The webhook, with its new secret.", WebhookWithSecret),),
    errors=(404, *AUTHORISED),
)
async def rotate_secret(request: Request) -> Response:
    caller, webhook_id, db = _target(request)
    row = await webhooks.rotate_secret(db, caller, webhook_id, new_secret())
    return await _webhook_response(db, caller, webhook_id, row, secret=True)


@operation(
    operation_id="listWebhookDeliveries",
    summary="A webhook's latest deliveries, newest first (kept at least 7 days)",
    tag="webhooks",
    query=DeliveriesQuery,
    replies=(Reply(200, "The deliveries.", DeliveryOut, many=True),),
    errors=(404, 422, *AUTHORISED),
)
async def list_deliveries(request: Request) -> Response:
    caller = owner_of(request)
    webhook_id = _webhook_id(request)
    params = validated(DeliveriesQuery, dict(request.query_params), where="query")
    found = await webhooks.list_deliveries(services(request).db, caller, webhook_id, params.limit)
    refuse_user(found.owner)
    if not found.found:
        raise Problem(404, f"Webhook {webhook_id} not found")
    return JSONResponse([delivery_json(row) for row in found.rows])


webhook_collection = by_method(get=list_webhooks, post=create_webhook)
webhook_item = by_method(get=get_webhook, patch=update_webhook, delete=delete_webhook)
