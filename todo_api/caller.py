"""Who is asking: the identity a valid token gives, as every data-access function takes it.
Whether that user, session or personal token still holds is decided in SQL (sql/_caller.sql),
in the same statement that does the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Scope = Literal["read", "write"]


@dataclass(frozen=True)
class Caller:
    user_id: str
    session_id: str | None = None  # None: a token that names no session
    token_id: int | None = None  # a personal access token's id; None: another kind of token
    scope: Scope = "write"  # what the token may do: a personal token's `read` only reads

    @property
    def params(self) -> dict[str, Any]:
        """The named SQL parameters that identify the caller (sql/_caller.sql uses them)."""
        return {"user_id": self.user_id, "session_id": self.session_id, "token_id": self.token_id}

    @property
    def personal(self) -> bool:
        """Whether the token is a personal access token."""
        return self.token_id is not None

    @property
    def may_write(self) -> bool:
        return self.scope == "write"
