"""A Server-Sent Events reader for the tests: a real HTTP client (httpx) reading a real server's
stream, event by event, as EventSource parses them (WHATWG HTML, "Server-sent events")."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    event: str  # "message" when the stream names none; "comment" for a `:` line
    data: str
    id: str | None

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class Stream:
    """An open stream: its response, and its events one at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def _next(self) -> Event | None:
        fields: dict[str, str] = {}
        data: list[str] = []
        async for line in self._lines:
            if line == "":
                if data or fields:
                    kind = fields.get("event", "message")
                    return Event(kind, "\n".join(data), fields.get("id"))
                continue
            if line.startswith(":"):
                return Event("comment", line[1:].strip(), None)
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
        return None

    async def next(self, wait: float = 10) -> Event | None:
        """The next event or comment within `wait` seconds (else TimeoutError); None when the
        server ended the stream."""
        async with asyncio.timeout(wait):
            return await self._next()

    async def next_event(self, wait: float = 10) -> Event | None:
        """The next event within `wait` seconds, comments skipped; None when the stream ended."""
        async with asyncio.timeout(wait):
            while True:
                event = await self._next()
                if event is None or event.event != "comment":
                    return event

    async def ended(self, wait: float) -> bool:
        """Whether the server ends the stream within `wait` seconds (skipping what comes first)."""
        try:
            async with asyncio.timeout(wait):
                while await self._next() is not None:
                    pass
        except TimeoutError:
            return False
        return True


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> AsyncIterator[Stream]:
    """GET the stream; yields it whatever the status (check `stream.response.status_code`)."""
    request = client.build_request("GET", url, headers=headers, params=params)
    response = await client.send(request, stream=True)
    try:
        if response.status_code != 200:
            await response.aread()
        yield Stream(response)
    finally:
        await response.aclose()
