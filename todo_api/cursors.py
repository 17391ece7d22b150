"""Opaque, signed keyset cursors: the sort, the order, and the last row's key and id.
Signed so that a client cannot hand-craft one; bound to sort and order so one cannot be reused
under another. The key is typed by its sort (KeyType): a timestamp, a date (or null: no due
date), or text (titles, priorities, positions), and read back as that type."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from datetime import date, datetime
from typing import Any

import orjson

_SIGNATURE_BYTES = 16

CursorKey = datetime | date | str | None


class InvalidCursor(Exception):
    pass


class KeyType(enum.Enum):
    """The type of a sort's key, as a cursor stores it (JSON) and reads it back."""

    TIMESTAMP = "timestamp"
    DATE = "date"  # may be null: a task without a due date
    TEXT = "text"

    def dump(self, key: CursorKey) -> str | None:
        if isinstance(key, date | datetime):
            return key.isoformat()
        return key

    def load(self, value: Any) -> CursorKey:
        if self is KeyType.DATE and value is None:
            return None
        if not isinstance(value, str):
            raise InvalidCursor("not a cursor")
        try:
            if self is KeyType.TIMESTAMP:
                return datetime.fromisoformat(value)
            if self is KeyType.DATE:
                return date.fromisoformat(value)
        except ValueError:
            raise InvalidCursor("not a cursor") from None
        return value


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"todo-api cursor\x00" + secret.encode()).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def encode(self, sort: str, order: str, key_type: KeyType, key: CursorKey, last_id: int) -> str:
        payload = orjson.dumps([sort, order, key_type.dump(key), last_id])
        token = self._sign(payload) + payload
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode()

    def decode(
        self, cursor: str, sort: str, order: str, key_type: KeyType
    ) -> tuple[CursorKey, int]:
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
        if not isinstance(last_id, int):
            raise InvalidCursor("not a cursor")
        return key_type.load(value), last_id
