"""Idempotency keys: one async function per query in sql/idempotency_*.sql, each run inside
the transaction of the request it guards."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from todo_api.db.pool import Transaction
from todo_api.db.queries import query

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


async def claim(tx: Transaction, user_id: str, key: str) -> Claim:
    """Take the key's lock, then read what was kept for it, in a statement of its own: a
    snapshot taken after the lock sees a first request that committed just before."""
    taken = await tx.fetchrow(*IDEMPOTENCY_CLAIM(user_id=user_id, key=key))
    if taken is None or not taken["taken"]:
        return Claim(taken=False, stored=None)
    row = await tx.fetchrow(*IDEMPOTENCY_KEPT(user_id=user_id, key=key))
    if row is None:
        return Claim(taken=True, stored=None)
    stored = StoredResponse(
        row["request"], row["status"], orjson.loads(row["headers"]), row["body"]
    )
    return Claim(taken=True, stored=stored)


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
