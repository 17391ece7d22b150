"""Idempotency keys: one async function per query in sql/idempotency_*.sql, each run inside
the transaction of the request it guards."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from todo_api.caller import Caller
from todo_api.db.pool import Transaction
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

IDEMPOTENCY_CLAIM = query("idempotency_claim")
IDEMPOTENCY_KEPT = query("idempotency_kept")
IDEMPOTENCY_STORE = query("idempotency_store")


@dataclass(frozen=True)
class StoredResponse:
    request: bytes  # digest of the request it answered
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claim:
    taken: bool  # False: a request with this key is running right now
    stored: StoredResponse | None
    caller: UserStatus | None = None  # what the caller rule says of the caller, when taken


async def claim(tx: Transaction, caller: Caller, key: str) -> Claim:
    """Take the key's lock, then read what was kept for it, in a statement of its own: a
    snapshot taken after the lock sees a first request that committed just before. The
    caller's status comes with it, for a replay to be refused as any request would be."""
    taken = await tx.fetchrow(*IDEMPOTENCY_CLAIM(user_id=caller.user_id, key=key))
    if taken is None or not taken["taken"]:
        return Claim(taken=False, stored=None)
    row = await tx.fetchrow(*IDEMPOTENCY_KEPT(**caller.params, key=key))
    assert row is not None  # one row always
    status = status_of(row["is_active"], row["may_act"])
    if row["request"] is None:
        return Claim(taken=True, stored=None, caller=status)
    stored = StoredResponse(
        row["request"], row["status"], orjson.loads(row["headers"]), row["body"]
    )
    return Claim(taken=True, stored=stored, caller=status)


async def store(tx: Transaction, user_id: str, key: str, response: StoredResponse) -> None:
    await tx.fetchrow(
        *IDEMPOTENCY_STORE(
            user_id=user_id,
            key=key,
            request=response.request,
            status=response.status,
            headers=orjson.dumps(response.headers).decode(),
            body=response.body,
        )
    )
