"""Who is asking: the identity a valid access token gives, as every data-access function takes
it. Whether that user and session still hold is decided in SQL (sql/_caller.sql), in the same
statement that does the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Caller:
    user_id: str
    session_id: str | None = None  # None: a token that names no session

    @property
    def params(self) -> dict[str, Any]:
        """The named SQL parameters that identify the caller (sql/_caller.sql uses them)."""
        return {"user_id": self.user_id, "session_id": self.session_id}
