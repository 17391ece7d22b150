"""bcrypt, off the event loop and bounded: a few threads hash, and a request that cannot get one
soon is told to come back (429) instead of queueing until every request is slow."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from typing import Final

import bcrypt

MAX_PASSWORD_BYTES: Final = 72  # bcrypt's limit; bcrypt 5 raises beyond it
RETRY_AFTER_SECONDS: Final = 1


HASHING_NICENESS: Final = 10


def _lower_priority() -> None:
    """Hashing threads yield the CPU to the threads serving requests (and to PostgreSQL): a
    storm of logins slows down logins, not every other request. Linux gives each thread its own
    nice value; elsewhere this does nothing."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class HasherBusy(Exception):
    """Every hashing slot stayed taken for the whole wait."""


class PasswordHasher:
    def __init__(self, rounds: int, concurrency: int, slot_wait: float) -> None:
        self.rounds = rounds
        self.slot_wait = slot_wait
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="bcrypt", initializer=_lower_priority
        )
        self._slots = asyncio.Semaphore(concurrency)
        self.slots = concurrency
        self.in_use = 0  # slots taken now (a metric, read by sampling)
        # Unknown accounts and over-long passwords are checked against this, so they cost
        # the same time as a real check.
        self._dummy_hash = bcrypt.hashpw(b"todo-api dummy password", bcrypt.gensalt(rounds))

    async def _run(self, fn: object, *args: bytes) -> bytes | bool:
        try:
            async with asyncio.timeout(self.slot_wait):
                await self._slots.acquire()
        except TimeoutError:
            raise HasherBusy from None
        self.in_use += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn, *args)  # type: ignore[arg-type]
        finally:
            self.in_use -= 1
            self._slots.release()

    async def hash(self, password: str) -> str:
        encoded = password.encode()
        if len(encoded) > MAX_PASSWORD_BYTES:
            raise ValueError("password longer than 72 bytes")
        salt = bcrypt.gensalt(self.rounds)
        hashed = await self._run(bcrypt.hashpw, encoded, salt)
        assert isinstance(hashed, bytes)
        return hashed.decode()

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """True only when `password_hash` exists and matches; always costs one bcrypt check."""
        encoded = password.encode()
        usable = password_hash is not None and len(encoded) <= MAX_PASSWORD_BYTES
        candidate = encoded if len(encoded) <= MAX_PASSWORD_BYTES else encoded[:MAX_PASSWORD_BYTES]
        stored = password_hash.encode() if usable and password_hash else self._dummy_hash
        matched = await self._run(bcrypt.checkpw, candidate, stored)
        return bool(matched) and usable

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
