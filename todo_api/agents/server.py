"""The MCP server (the official `mcp` SDK's low-level Server) that offers the tools of
todo_api/agents/tools.py, over Streamable HTTP at /mcp (stateless, JSON answers: any worker or
replica answers any request) and over stdio (`todo-api mcp`).

Each tool's input schema is made from the model that validates its arguments, its output
schema from the model of its answer, so new task fields appear in both with no change here. A
call answers `structuredContent` and a short text; a call that fails answers a tool result
with `isError` and the failure's text (the problem a route would have answered: it names the
field or the id), never a JSON-RPC error and never a 5xx.

/mcp takes the bearer tokens every route takes (access, issuer, personal): the authentication
backend has read the token, and agents/endpoint.py refuses a request whose token the caller
rule refuses (401 with WWW-Authenticate, or 403 for an inactive account) before the SDK sees
it. A `read` personal token may call only the read-only tools. The answers are single JSON
bodies that no middleware holds back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from starlette.requests import Request

from todo_api import __version__
from todo_api.agents.tools import TOOLS, Tool, ToolContext
from todo_api.auth.backend import TokenUser
from todo_api.auth.personal import PersonalTokens
from todo_api.auth.tokens import InvalidToken
from todo_api.cursors import CursorCodec
from todo_api.db.pool import Database, DatabaseUnavailable
from todo_api.db.users import user_status
from todo_api.problems import Problem
from todo_api.routes.refusals import SESSION_ENDED, refuse_user
from todo_api.services import services

log = logging.getLogger("todo_api")

NAME: Final = "todo-api"
INSTRUCTIONS: Final = (
    "The user's todo list. Start with get_overview to see what is pending, overdue and due "
    "soon; find_tasks searches and pages; add_tasks, update_task, complete_tasks, move_task "
    "and delete_tasks change tasks (the batch tools do all or nothing). Dates are YYYY-MM-DD."
)
READ_ONLY_TOOLS: Final = ", ".join(tool.name for tool in TOOLS if tool.read_only)
READ_SCOPE: Final = (
    f"This personal access token may only read (its scope is read): it can call {READ_ONLY_TOOLS}"
)
UNAVAILABLE: Final = "The database is unavailable right now: nothing was changed; try again"
UNEXPECTED: Final = "An unexpected error occurred; it has been logged: nothing was changed"

BY_NAME: Final = {tool.name: tool for tool in TOOLS}

ContextOf = Callable[[ServerRequestContext[Any, Any]], Awaitable[ToolContext]]


def _schema(model: type[Any], mode: str = "validation") -> dict[str, Any]:
    """A model's JSON Schema as a tool's: the model's own title and text are the server's
    business (the tool has its description), and "at least one of" rules are left to the
    model and the description (clients refuse a top-level anyOf)."""
    schema: dict[str, Any] = model.model_json_schema(mode=mode)
    for key in ("title", "description", "anyOf"):
        schema.pop(key, None)
    return schema


def input_schema(tool: Tool[Any]) -> dict[str, Any]:
    """The arguments' schema, under the names the tool takes them by (the model's aliases)."""
    schema = _schema(tool.arguments)
    properties = {k: v for k, v in schema["properties"].items() if k not in tool.hidden}
    required = [name for name in schema.get("required", []) if name not in tool.hidden]
    return {**schema, "properties": properties, **({"required": required} if required else {})}


def definition(tool: Tool[Any]) -> types.Tool:
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=input_schema(tool),
        output_schema=_schema(tool.result, mode="serialization"),
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=tool.read_only,
            destructive_hint=None if tool.read_only else tool.destructive,
            idempotent_hint=None if tool.read_only else tool.idempotent,
            open_world_hint=False,
        ),
    )


DEFINITIONS: Final = tuple(definition(tool) for tool in TOOLS)


def failed(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def problem_text(problem: Problem) -> str:
    """The problem as an agent reads it: what failed, then each broken rule with its field."""
    errors = list(problem.errors or ())
    lines = [problem.detail]
    if len(errors) > 1:
        lines += [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors]
    return "\n".join(lines)


async def run_tool(
    tool: Tool[Any], context: ToolContext, arguments: Mapping[str, Any]
) -> types.CallToolResult:
    """One call of the tool for the context's caller: its result, or the failure as a tool
    result with isError."""
    if not tool.read_only and not context.caller.may_write:
        return failed(READ_SCOPE)
    try:
        result = await tool.run(context, tool.validated(arguments))
    except Problem as problem:
        return failed(problem_text(problem))
    except DatabaseUnavailable:
        return failed(UNAVAILABLE)
    return types.CallToolResult(
        content=[types.TextContent(text=tool.summary(result))], structured_content=result
    )


def mcp_server(context_of: ContextOf) -> Server[Any]:
    """The tools, for the caller `context_of` finds for each request."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(DEFINITIONS))

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = BY_NAME.get(params.name)
        if tool is None:  # not a failure of a tool: the protocol's own error
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        try:
            return await run_tool(tool, await context_of(ctx), params.arguments or {})
        except InvalidToken:
            return failed(SESSION_ENDED)
        except DatabaseUnavailable:
            return failed(UNAVAILABLE)
        except Exception:
            log.exception("tool %s failed", tool.name)
            return failed(UNEXPECTED)

    return Server(
        NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def _http_context(ctx: ServerRequestContext[Any, Any]) -> ToolContext:
    """A request to /mcp: the caller the endpoint let through, the app's database."""
    request = ctx.request
    assert isinstance(request, Request) and isinstance(request.user, TokenUser)
    svc = services(request)
    return ToolContext(svc.db, svc.cursors, request.user.caller)


def http_sessions() -> StreamableHTTPSessionManager:
    """The session manager of /mcp (agents/endpoint.py): stateless, answering JSON."""
    return StreamableHTTPSessionManager(
        app=mcp_server(_http_context), json_response=True, stateless=True
    )


async def serve_stdio(db: Database, cursors: CursorCodec, token: str) -> None:
    """The tools over stdin and stdout, for the user of the personal access token `token`
    (checked at each call: deleted or expired, the calls fail)."""
    known = PersonalTokens()

    async def context_of(ctx: ServerRequestContext[Any, Any]) -> ToolContext:
        return ToolContext(db, cursors, await known.caller(db, token))

    server = mcp_server(context_of)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def check_token(db: Database, token: str) -> str | None:
    """Why `token` cannot serve `todo-api mcp` (None: it can)."""
    try:
        caller = await PersonalTokens().caller(db, token)
        refuse_user(await user_status(db, caller))
    except InvalidToken:
        return "TODO_API_TOKEN is not a valid personal access token (unknown, deleted or expired)"
    except Problem as problem:
        return f"TODO_API_TOKEN cannot be used: {problem.detail}"
    return None
