"""Sync tokens: where a client's copy stands in its change feed. Opaque and signed, so a
client cannot forge one; bound to the user, so one user's token means nothing for another;
dated, so one older than the history kept is told apart (410) from one never made (422)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson

_SIGNATURE_BYTES = 16


class InvalidSyncToken(Exception):
    """Not a token this service made for this user."""


class ExpiredSyncToken(Exception):
    """A real token, older than the history kept."""


@dataclass(frozen=True)
class FeedPosition:
    change_seq: int
    task_id: int


START = FeedPosition(0, 0)


class SyncTokens:
    def __init__(self, secret: str, history_days: int) -> None:
        self._key = hashlib.sha256(b"todo-api sync token\x00" + secret.encode()).digest()
        self.history_seconds = history_days * 86400

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def encode(self, user_id: str, position: FeedPosition, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        payload = orjson.dumps([user_id, position.change_seq, position.task_id, issued])
        return base64.urlsafe_b64encode(self._sign(payload) + payload).rstrip(b"=").decode()

    def decode(self, token: str, user_id: str, now: float | None = None) -> FeedPosition:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise InvalidSyncToken("not a sync token") from None
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidSyncToken("not a sync token")
        owner, change_seq, task_id, issued = orjson.loads(payload)
        if owner != user_id:
            raise InvalidSyncToken("this token belongs to another user")
        if (time.time() if now is None else now) - issued > self.history_seconds:
            raise ExpiredSyncToken("older than the change history kept; sync from the start")
        return FeedPosition(change_seq, task_id)
