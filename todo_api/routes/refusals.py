"""What the caller rule's verdict (sql/_caller.sql) means to a client: 401 or 403."""

from __future__ import annotations

from typing import NoReturn

from todo_api.auth.backend import unauthorized
from todo_api.caller import Caller
from todo_api.db.pool import Runner
from todo_api.db.users import UserStatus, user_status
from todo_api.problems import Problem

# What any route needing a signed-in caller may answer besides its own statuses.
AUTHORISED = (401, 403, 503)
INACTIVE = "This account is inactive"
SESSION_ENDED = "The token is no longer valid: its session ended, or it was deleted or expired"


def refuse_user(status: UserStatus) -> None:
    """A 401 or 403 when the caller rule refuses the token's user; nothing when they may act."""
    if status is UserStatus.MISSING:
        raise unauthorized(token_sent=True, detail="The token's user no longer exists")
    if status is UserStatus.INACTIVE:
        raise Problem(403, INACTIVE)
    if status is UserStatus.REFUSED:
        raise unauthorized(token_sent=True, detail=SESSION_ENDED)


async def refused(db: Runner, caller: Caller) -> NoReturn:
    """A statement acting for the caller changed nothing: the 401 or 403 the caller rule gives
    now (a session that ended between our look and the write is the last possibility)."""
    refuse_user(await user_status(db, caller))
    raise unauthorized(token_sent=True, detail=SESSION_ENDED)
