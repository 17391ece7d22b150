"""Opaque, signed keyset cursors: the sort, the order, and the last row's key and id.
Signed so that a client cannot hand-craft one; bound to sort and order so one cannot be reused
under another. The key is typed by its sort (KeyType): a timestamp, a date (or null: no due
date), or text (titles, priorities, positions), and read back as that type."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from todo_api.signed import BadSignature, Signer

CursorKey = datetime | date | str | tuple[date | None, datetime | None] | None


class InvalidCursor(Exception):
    pass


class KeyType(enum.Enum):
    """The type of a sort's key, as a cursor stores it (JSON) and reads it back."""

    TIMESTAMP = "timestamp"
    DATE = "date"  # may be null: a task without a due date
    TEXT = "text"
    DUE = "due"  # a due date (or null) and a due_at (or null): sort=due

    def dump(self, key: CursorKey) -> Any:
        if isinstance(key, tuple):
            return [None if part is None else part.isoformat() for part in key]
        if isinstance(key, date | datetime):
            return key.isoformat()
        return key

    def load(self, value: Any) -> CursorKey:
        if self is KeyType.DUE:
            if not isinstance(value, list) or len(value) != 2:
                raise InvalidCursor("not a cursor")
            day, at = value
            return (KeyType.DATE.load(day), None if at is None else KeyType.TIMESTAMP.load(at))  # type: ignore[return-value]
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
        self._signer = Signer(secret, "cursor")

    def encode(self, sort: str, order: str, key_type: KeyType, key: CursorKey, last_id: int) -> str:
        return self._signer.dump([sort, order, key_type.dump(key), last_id])

    def decode(
        self, cursor: str, sort: str, order: str, key_type: KeyType
    ) -> tuple[CursorKey, int]:
        """The (key, id) a cursor made for this sort and order holds, or InvalidCursor."""
        try:
            cursor_sort, cursor_order, value, last_id = self._signer.load(cursor)
        except BadSignature:
            raise InvalidCursor("not a cursor") from None
        if (cursor_sort, cursor_order) != (sort, order):
            raise InvalidCursor(f"the cursor was made for sort={cursor_sort}&order={cursor_order}")
        if not isinstance(last_id, int):
            raise InvalidCursor("not a cursor")
        return key_type.load(value), last_id
