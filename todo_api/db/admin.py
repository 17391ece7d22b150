"""Accounts as operators manage them from the command line (`todo-api users ...`)."""

from __future__ import annotations

import asyncpg

from todo_api.db.pool import Runner
from todo_api.db.queries import query

USERS_ADMIN_LIST = query("users_admin_list")
USERS_ADMIN_FIND = query("users_admin_find")
USERS_ADMIN_SET_ACTIVE = query("users_admin_set_active")
USERS_ADMIN_DELETE = query("users_admin_delete")


async def list_accounts(db: Runner) -> list[asyncpg.Record]:
    return await db.fetch(*USERS_ADMIN_LIST())


async def find_account(db: Runner, account: str) -> asyncpg.Record | None:
    """The account named by its id, email or username (any case)."""
    return await db.fetchrow(*USERS_ADMIN_FIND(account=account))


async def set_active(db: Runner, user_id: str, active: bool) -> bool:
    """Activate or deactivate (ending every session); False when it already was so."""
    row = await db.fetchrow(*USERS_ADMIN_SET_ACTIVE(id=user_id, active=active), retry=False)
    return bool(row and row["changed"])


async def delete_account(db: Runner, user_id: str) -> bool:
    row = await db.fetchrow(*USERS_ADMIN_DELETE(id=user_id), retry=False)
    return bool(row and row["deleted"])
