"""A TCP proxy in front of the real test PostgreSQL that a test can cut and restore, to take
the database away from the app without touching the server other tests use."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qsl, urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        params = dict(parse_qsl(parts.query))
        self._socket_dir = (
            params.get("host") if (params.get("host") or "").startswith("/") else None
        )
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 5432
        self._target = parts
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The database URL, through this proxy."""
        user = self._target.username or "postgres"
        password = f":{self._target.password}" if self._target.password else ""
        netloc = f"{user}{password}@127.0.0.1:{self.port}"
        return urlunsplit(("postgresql", netloc, self._target.path, "", ""))

    async def _open_target(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._socket_dir is not None:
            return await asyncio.open_unix_connection(f"{self._socket_dir}/.s.PGSQL.{self._port}")
        return await asyncio.open_connection(self._host, self._port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._open_target()
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a database going away does."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)
