"""Webhooks: the create and change bodies, a webhook and a delivery as JSON, the secret, and
the body of an event as it is sent (its task in the shape every response shows)."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

import asyncpg
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from todo_api.addresses import host_refusal
from todo_api.models.common import NO_NUL, Body, not_null, partial_update
from todo_api.models.sync import change_json

EVENT_TYPES: Final = ("task.created", "task.updated", "task.completed", "task.deleted", "reminder")
EventType = Literal["task.created", "task.updated", "task.completed", "task.deleted", "reminder"]
URL_MAX_CHARS: Final = 2000
DESCRIPTION_MAX_CHARS: Final = 500
MAX_WEBHOOKS: Final = 10
DELIVERIES_LIMIT_MAX: Final = 100
DELIVERIES_LIMIT_DEFAULT: Final = 20
SECRET_PREFIX: Final = "whsec_"
SECRET_BYTES: Final = 32  # the Standard Webhooks format asks for 24 to 64


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format: whsec_ and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _events(value: list[str]) -> list[str]:
    """Duplicates merged, the order given kept; at least one."""
    merged = list(dict.fromkeys(value))
    if not merged:
        raise PydanticCustomError("no_events", "Give at least one event type")
    return merged


def _url(value: str, info: ValidationInfo) -> str:
    """An absolute https:// url (http:// too when allowed), with a host that is not a refused
    address as written (unless private addresses are allowed). The context carries the
    settings: {"allow_http": bool, "allow_private": bool}."""
    context = info.context or {}
    schemes = ("https", "http") if context.get("allow_http") else ("https",)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise PydanticCustomError("url", "Not a valid url") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        shown = " or http://" if context.get("allow_http") else ""
        raise PydanticCustomError("url_scheme", "An absolute https://{shown} url", {"shown": shown})
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("url_credentials", "A url without user name or password")
    if port == 0:
        raise PydanticCustomError("url", "Not a valid url")
    if any(c.isspace() or ord(c) < 0x20 for c in value):
        raise PydanticCustomError("url", "A url holds no white space or control character")
    if not context.get("allow_private"):
        reason = host_refusal(parts.hostname)
        if reason is not None:
            raise PydanticCustomError(
                "url_address", "The host is {reason}: refused", {"reason": reason}
            )
    return value


Url = Annotated[
    str,
    Field(max_length=URL_MAX_CHARS),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "maxLength": URL_MAX_CHARS,
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\x00-\\x20]+$",
            "description": "An absolute https:// url (http:// only with WEBHOOK_ALLOW_HTTP); "
            "not a loopback, private, link-local, unique-local, multicast or unspecified "
            "address.",
        }
    ),
]
Events = Annotated[
    list[EventType],
    Field(min_length=1),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "string", "enum": list(EVENT_TYPES)},
            "minItems": 1,
            "description": "The event types to receive (duplicates merged).",
        }
    ),
]
Description = Annotated[
    str,
    Field(max_length=DESCRIPTION_MAX_CHARS),
    WithJsonSchema({"type": "string", "maxLength": DESCRIPTION_MAX_CHARS, "pattern": NO_NUL}),
]


class WebhookCreate(Body):
    url: Url
    events: Events
    description: Description | None = None

    _url_checked = field_validator("url")(_url)
    _events_merged = field_validator("events")(_events)


UPDATABLE: Final = ("url", "events", "description", "active")
NOT_NULL_UPDATES: Final = ("url", "events", "active")


class WebhookUpdate(Body):
    model_config = ConfigDict(json_schema_extra=partial_update(UPDATABLE, NOT_NULL_UPDATES))

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    active: bool | None = None

    _not_nulls = field_validator(*NOT_NULL_UPDATES, mode="before")(not_null)

    @field_validator("url")
    @classmethod
    def _url_checked(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _url(value, info)

    @field_validator("events")
    @classmethod
    def _events_merged(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _events(value)

    @model_validator(mode="after")
    def _something_to_change(self) -> WebhookUpdate:
        if not self.model_fields_set & set(UPDATABLE):
            raise PydanticCustomError("no_update", "Give at least one of " + ", ".join(UPDATABLE))
        return self


class WebhookOut(BaseModel):
    """A webhook, as every response but its creation and a rotation shows one (no secret)."""

    id: int
    url: str
    events: list[EventType]
    description: str | None
    active: bool = Field(description="false: no events are recorded for it, none are sent.")
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    """A webhook with its signing secret: shown only when created and when rotated."""

    secret: str = Field(
        description="whsec_ and base64 of 32 random bytes; the key of webhook-signature."
    )


WEBHOOK_FIELDS: Final = tuple(WebhookOut.model_fields)


def webhook_json(row: asyncpg.Record, *, secret: bool = False) -> dict[str, Any]:
    fields = (*WEBHOOK_FIELDS, "secret") if secret else WEBHOOK_FIELDS
    return {name: row[name] for name in fields}


class DeliveriesQuery(BaseModel):
    """The deliveries log's query string."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: Annotated[int, Field(ge=1, le=DELIVERIES_LIMIT_MAX)] = DELIVERIES_LIMIT_DEFAULT


class DeliveryOut(BaseModel):
    """One event sent (or being sent) to a webhook."""

    id: str = Field(description="The webhook-id header it is sent with (the same on retries).")
    type: EventType
    status: Literal["pending", "delivered", "failed"]
    attempts: int = Field(ge=0)
    last_status_code: int | None = Field(
        description="The status of the last answer; null when no answer came."
    )
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


DELIVERY_FIELDS: Final = tuple(DeliveryOut.model_fields)


def delivery_json(row: asyncpg.Record) -> dict[str, Any]:
    return {name: row[name] for name in DELIVERY_FIELDS}


def event_body(row: asyncpg.Record) -> bytes:
    """The JSON body of a claimed delivery (db/webhooks.py, claim_deliveries): its type, when
    it happened, and its data, whose `task` is rendered as every response renders a task (or,
    for task.deleted, as the change feed's tombstone); the event's other keys (a reminder's
    `fires_at`) are sent as recorded."""
    data: dict[str, Any] = orjson.loads(row["event_extra"])
    data["task"] = change_json(row)
    body = {"type": row["event_type"], "timestamp": row["event_at"], "data": data}
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)
