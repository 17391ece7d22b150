"""Sync tokens: where a client's copy stands in its change feed. Opaque and signed, so a
client cannot forge one; bound to the user, so one user's token means nothing for another;
dated, so one older than the history kept is told apart (410) from one never made (422)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from todo_api.signed import BadSignature, Signer


class InvalidSyncToken(Exception):
    """Not a token this service made for this user."""


class ExpiredSyncToken(Exception):
    """A real token, older than the history kept."""


@dataclass(frozen=True)
class FeedPosition:
    change_seq: int
    task_id: int


START = FeedPosition(0, 0)
# A client up to date gets its own token back while it is younger than this, instead of a new
# one for the same position: polling then costs no signing. Its date moves on at most this late.
REISSUE_AFTER_SECONDS = 3600


@dataclass(frozen=True)
class ReadToken:
    position: FeedPosition
    issued: int  # Unix seconds

    def still_fresh(self, now: float | None = None) -> bool:
        """Young enough to be handed back unchanged when the position did not move."""
        return (time.time() if now is None else now) - self.issued < REISSUE_AFTER_SECONDS


class SyncTokens:
    def __init__(self, secret: str, history_days: int) -> None:
        self._signer = Signer(secret, "sync token")
        self.history_seconds = history_days * 86400

    def encode(self, user_id: str, position: FeedPosition, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        return self._signer.dump([user_id, position.change_seq, position.task_id, issued])

    def decode(self, token: str, user_id: str, now: float | None = None) -> ReadToken:
        try:
            owner, change_seq, task_id, issued = self._signer.load(token)
        except BadSignature:
            raise InvalidSyncToken("not a sync token") from None
        if owner != user_id:
            raise InvalidSyncToken("this token belongs to another user")
        if (time.time() if now is None else now) - issued > self.history_seconds:
            raise ExpiredSyncToken("older than the change history kept; sync from the start")
        return ReadToken(FeedPosition(change_seq, task_id), issued)
