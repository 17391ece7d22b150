"""Personal access tokens: one async function per query in sql/token*.sql. Only a hash of a
token is ever stored or looked up."""

from __future__ import annotations

from typing import Final

import asyncpg

from todo_api.caller import Caller
from todo_api.db.pool import Database, Runner
from todo_api.db.queries import query
from todo_api.db.users import UserStatus, status_of

TOKEN_USE = query("token_use")
TOKEN_OWNER_LOCK = query("token_owner_lock")
TOKEN_INSERT = query("token_insert")
TOKENS_LIST = query("tokens_list")
TOKEN_DELETE = query("token_delete")

MAX_TOKENS: Final = 20  # live personal tokens a user may hold


async def use_token(db: Runner, token_hash: bytes) -> asyncpg.Record | None:
    """The live token with this hash (id, user_id, scope), its use recorded; None: none such."""
    return await db.fetchrow(*TOKEN_USE(token_hash=token_hash))


async def create_token(
    db: Database,
    caller: Caller,
    name: str,
    scope: str,
    token_hash: bytes,
    expires_in_days: int | None,
) -> tuple[UserStatus, asyncpg.Record | None]:
    """A new token of the caller's; the record is None when they hold MAX_TOKENS already."""
    async with db.transaction() as tx:
        owner = await tx.fetchrow(*TOKEN_OWNER_LOCK(**caller.params))
        status = (
            UserStatus.MISSING if owner is None else status_of(owner["is_active"], owner["may_act"])
        )
        if status is not UserStatus.ACTIVE:
            return status, None
        statement = TOKEN_INSERT(
            **caller.params,
            name=name,
            scope=scope,
            token_hash=token_hash,
            expires_in_days=expires_in_days,
            max_tokens=MAX_TOKENS,
        )
        return status, await tx.fetchrow(*statement)


async def list_tokens(db: Runner, caller: Caller) -> tuple[UserStatus, list[asyncpg.Record]]:
    records = await db.fetch(*TOKENS_LIST(**caller.params))
    head = records[0]
    rows = [r for r in records if r["id"] is not None]
    return status_of(head["is_active"], head["may_act"]), rows


async def delete_token(db: Runner, caller: Caller, token_id: int) -> bool:
    statement = TOKEN_DELETE(**caller.params, target_id=token_id)
    return await db.fetchrow(*statement, retry=False) is not None
