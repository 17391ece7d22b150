"""What the routes use, opened by the lifespan and kept on `app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from todo_api.auth.passwords import PasswordHasher
from todo_api.cursors import CursorCodec
from todo_api.db.pool import Database
from todo_api.event_hub import EventHub
from todo_api.settings import Settings
from todo_api.sync_tokens import SyncTokens


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    hasher: PasswordHasher
    cursors: CursorCodec
    sync_tokens: SyncTokens
    events: EventHub


def services(request: HTTPConnection) -> Services:
    found: Services = request.app.state.services
    return found
