"""Opaque, signed keyset cursors: the sort, the order, and the last row's key and id.
Signed so that a client cannot hand-craft one; bound to sort and order so one cannot be reused
under another."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

import orjson

_SIGNATURE_BYTES = 16


class InvalidCursor(Exception):
    pass


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"todo-api cursor\x00" + secret.encode()).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def encode(self, sort: str, order: str, key: datetime | str, last_id: int) -> str:
        value = key.isoformat() if isinstance(key, datetime) else key
        payload = orjson.dumps([sort, order, value, last_id])
        token = self._sign(payload) + payload
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode()

    def decode(self, cursor: str, sort: str, order: str) -> tuple[datetime | str, int]:
        """The (key, id) a cursor made for this sort and order holds, or InvalidCursor."""
        try:
            token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError:
            raise InvalidCursor("not a cursor") from None
        signature, payload = token[:_SIGNATURE_BYTES], token[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCursor("not a cursor") from None
        data: Any = orjson.loads(payload)
        cursor_sort, cursor_order, value, last_id = data
        if (cursor_sort, cursor_order) != (sort, order):
            raise InvalidCursor(f"the cursor was made for sort={cursor_sort}&order={cursor_order}")
        key = value if sort == "title" else datetime.fromisoformat(value)
        return key, last_id
