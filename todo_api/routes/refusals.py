"""What the caller rule's verdict (sql/_caller.sql) means to a client: 401 or 403."""

from __future__ import annotations

from todo_api.auth.backend import unauthorized
from todo_api.db.users import UserStatus
from todo_api.problems import Problem

INACTIVE = "This account is inactive"


def refuse_user(status: UserStatus) -> None:
    """A 401 or 403 when the caller rule refuses the token's user; nothing when they may act."""
    if status is UserStatus.MISSING:
        raise unauthorized(token_sent=True, detail="The token's user no longer exists")
    if status is UserStatus.INACTIVE:
        raise Problem(403, INACTIVE)
    if status is UserStatus.REFUSED:
        raise unauthorized(token_sent=True, detail="The token's session has ended")
