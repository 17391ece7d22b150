"""Personal access tokens (`tdo_` and 256 random bits, kept only as their SHA-256): made by a
signed-in user for scripts and agents, sent as bearer tokens like any other.

Verifying one costs what verifying an access token does: a hash, and the caller rule's own
primary-key lookup in the statement that does the work (sql/_caller.sql), which refuses a
token deleted or expired at once, on every worker. What a token names (its id, user and scope)
never changes, so each process remembers it after the first lookup; that lookup also records
`last_used_at`, and is made again once a minute while the token is used, so `last_used_at`
lags by a minute at most without a write per request.

What such a token may do is stated here once: no /api/auth/* but reading /api/auth/me, and a
`read` token only reads (GET, HEAD; /mcp checks each tool instead)."""

from __future__ import annotations

import collections
import hashlib
import secrets
import time
from typing import Final

from todo_api.auth.tokens import VERIFIED_TOKENS, InvalidToken
from todo_api.caller import Caller
from todo_api.db import tokens
from todo_api.db.pool import Runner

PREFIX: Final = "tdo_"
TOKEN_BYTES: Final = 32  # 256 bits
# tdo_ and 43 URL-safe base64 characters; anything longer is not one of ours, whatever it holds.
MAX_CHARS: Final = len(PREFIX) + 64
TOUCH_SECONDS: Final = 60.0  # how long last_used_at may lag
MCP_PATH: Final = "/mcp"  # where a read token may POST: each tool says whether it only reads
READS: Final = frozenset({"GET", "HEAD"})


def is_personal(token: str) -> bool:
    return token.startswith(PREFIX)


def new_personal_token() -> tuple[str, bytes]:
    """A new token and the hash that is all the database keeps of it."""
    token = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return token, personal_token_hash(token)


def personal_token_hash(token: str) -> bytes:
    """SHA-256: a token of 256 random bits needs no slow hash to be safe at rest."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def refusal(method: str, path: str, caller: Caller) -> str | None:
    """Why this personal token may not make this request (None: it may)."""
    if path.startswith("/api/auth/") and not (path == "/api/auth/me" and method in READS):
        return "A personal access token can only read /api/auth/me of the /api/auth routes"
    if not caller.may_write and method not in READS and path != MCP_PATH:
        return "This personal access token may only read (its scope is read)"
    return None


class PersonalTokens:
    """The callers of the personal tokens this process has seen, looked up once a minute."""

    def __init__(self, touch_seconds: float = TOUCH_SECONDS) -> None:
        self.touch_seconds = touch_seconds
        self._known: collections.OrderedDict[bytes, tuple[Caller, float]] = (
            collections.OrderedDict()
        )

    async def caller(self, db: Runner, token: str) -> Caller:
        """The caller the token names, or InvalidToken (unknown, deleted or expired)."""
        if not is_personal(token) or len(token) > MAX_CHARS:
            raise InvalidToken("not a personal access token")
        digest = personal_token_hash(token)
        known = self._known.get(digest)
        now = time.monotonic()
        if known is not None and now - known[1] < self.touch_seconds:
            return known[0]
        row = await tokens.use_token(db, digest)
        if row is None:
            self._known.pop(digest, None)
            raise InvalidToken("unknown, deleted or expired personal access token")
        caller = Caller(row["user_id"], None, row["id"], row["scope"])
        self._known[digest] = (caller, now)
        self._known.move_to_end(digest)
        while len(self._known) > VERIFIED_TOKENS:
            self._known.popitem(last=False)
        return caller
