"""/mcp in the app (an ASGI app in the route table, POST only): the caller rule checked and the
body read under the service's limits before the MCP SDK sees the request (agents/server.py).

The SDK (about 20 MB of memory, and a second to import) is loaded by the first /mcp request a
worker gets, in a thread so that other requests go on meanwhile; its session manager then runs
in a task of the app's lifespan (`running()`) until the app stops, as the SDK requires. A
worker no agent calls pays nothing for it."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from todo_api.auth.backend import require_user
from todo_api.db.users import user_status
from todo_api.routes.refusals import refuse_user
from todo_api.services import services

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The request's body, already read, as the first message; then the connection's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class McpEndpoint:
    def __init__(self) -> None:
        self._tasks: anyio.abc.TaskGroup | None = None
        self._sessions: StreamableHTTPSessionManager | None = None
        self._loading = anyio.Lock()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """For the app's lifespan: where the SDK's session manager will run."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    async def _started(self) -> StreamableHTTPSessionManager:
        async with self._loading:
            if self._sessions is None:
                if self._tasks is None:
                    raise RuntimeError("/mcp is served only while the app's lifespan runs")
                server = await anyio.to_thread.run_sync(
                    importlib.import_module, "todo_api.agents.server"
                )
                sessions: StreamableHTTPSessionManager = server.http_sessions()
                await self._tasks.start(self._serve, sessions)
                self._sessions = sessions
            return self._sessions

    @staticmethod
    async def _serve(sessions: Any, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        async with sessions.run():
            task_status.started()
            await anyio.sleep_forever()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        caller = require_user(request)  # a Problem (401) is answered by the app's handlers
        refuse_user(await user_status(services(request).db, caller))
        body = await request.body()  # within the body limit, or a 413 / 408 problem
        sessions = self._sessions or await self._started()
        await sessions.handle_request(scope, _replaying(body, receive), send)
