"""The agents' tools served for real: /mcp on `todo-api serve --workers 2` (stateless: calls
spread over both workers all succeed), an OpenAI Agents SDK agent planning a day through /mcp
with a scripted model (no network), and `todo-api mcp` over stdio driven by the official SDK's
client, which refuses to start without a valid token."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import httpx2
import mcp_types as types
import pytest
from agents import Agent, RunConfig, Runner
from agents.mcp import MCPServerStreamableHttp
from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import TEST_SECRET
from todo_api.testing import BIN, ROOT, TODO_API, Server

pytestmark = pytest.mark.anyio

PASSWORD = "password1"


async def account(base: str, scope: str = "write") -> tuple[str, dict[str, str], str]:
    """A new user on the server at `base`: their id, a session's headers, a personal token."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        name = f"a{datetime.now(UTC).strftime('%H%M%S%f')}{os.getpid()}"
        body = {"email": f"{name}@example.com", "password": PASSWORD}
        r = await client.post("/api/auth/register", json=body)
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        user_id = r.json()["user"]["id"]
        r = await client.post(
            "/api/auth/tokens", json={"name": "agent", "scope": scope}, headers=headers
        )
        assert r.status_code == 201, r.text
        return user_id, headers, r.json()["token"]


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "MIGRATE_ON_START": "false",
        **extra,
    }


async def test_mcp_calls_spread_over_two_workers_all_succeed(
    database_url: str, db: asyncpg.Connection, serve: Callable[..., Server]
) -> None:
    server = serve(server_env(database_url, LOG_FORMAT="json"), [*TODO_API, "--workers", "2"])
    user_id, _, token = await account(server.base)
    # No connection is kept: each request is a new connection, taken by either worker.
    limits = httpx2.Limits(max_keepalive_connections=0)

    async def agent(n: int) -> list[int]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, limits=limits, timeout=30) as http,
            Client(streamable_http_client(f"{server.base}/mcp", http_client=http)) as client,
        ):
            made = []
            for i in range(5):
                result = await client.call_tool(
                    "add_tasks", {"tasks": [{"title": f"agent {n} task {i}"}]}
                )
                assert not result.is_error, result.content
                made.append(result.structured_content["tasks"][0]["id"])
            found = await client.call_tool("find_tasks", {"q": f"agent {n} ", "limit": 100})
            assert sorted(t["id"] for t in found.structured_content["tasks"]) == sorted(made)
            return made

    made = [i for ids in await asyncio.gather(*(agent(n) for n in range(6))) for i in ids]
    stored = await db.fetch("SELECT id FROM tasks WHERE user_id = $1", user_id)
    assert sorted(r["id"] for r in stored) == sorted(made) and len(made) == 30
    pids = set()
    for line in server.output.splitlines():
        if line.startswith("{") and '"/mcp"' in line:
            entry = json.loads(line)
            assert entry["status"] == 200, entry
            pids.add(entry["pid"])
    assert len(pids) == 2, pids  # both workers answered
    assert "Terminating session" not in server.output  # one log line a request: the access log


def _output_of(call: ModelCall, call_id: str) -> dict[str, Any]:
    """The structured answer of an earlier tool call, as the agent fed it back to the model."""
    for item in call.input:
        if isinstance(item, dict) and item.get("call_id") == call_id and "output" in item:
            output = item["output"]
            text = output if isinstance(output, str) else output[0]["text"]
            found: dict[str, Any] = json.loads(text)
            return found
    raise AssertionError(f"no output for {call_id}")


async def test_an_openai_agents_sdk_agent_plans_a_day_through_mcp(
    database_url: str, db: asyncpg.Connection, serve: Callable[..., Server]
) -> None:
    server = serve(server_env(database_url))
    user_id, session, token = await account(server.base)
    today = datetime.now(UTC).date().isoformat()
    async with httpx.AsyncClient(base_url=server.base) as client:
        r = await client.post(
            f"/api/{user_id}/tasks",
            json={"title": "Pay rent", "due_date": "2020-01-01"},
            headers=session,
        )
        rent = r.json()["id"]

    def complete_and_move(call: ModelCall) -> ModelStep:
        added = {t["title"]: t["id"] for t in _output_of(call, "add")["tasks"]}
        return ModelStep(
            output=[
                function_call("complete_tasks", {"ids": [rent]}, call_id="done"),
                function_call(
                    "move_task", {"id": added["Dentist"], "after": None}, call_id="first"
                ),
            ]
        )

    def summarise(call: ModelCall) -> ModelStep:
        plan = _output_of(call, "plan")["tasks"]
        return ModelStep(
            output=[assistant_message("Today: " + ", then ".join(t["title"] for t in plan))]
        )

    model = ScriptedModel(
        [
            [function_call("get_overview", {}, call_id="look")],
            [
                function_call(
                    "add_tasks",
                    {
                        "tasks": [
                            {"title": "Buy milk", "tags": ["groceries"]},
                            {"title": "Buy eggs", "tags": ["groceries"]},
                            {"title": "Dentist", "due_date": today, "priority": "high"},
                        ]
                    },
                    call_id="add",
                )
            ],
            ModelStep.respond(complete_and_move),
            [
                function_call(
                    "find_tasks", {"status": "pending", "sort": "position"}, call_id="plan"
                )
            ],
            ModelStep.respond(summarise),
        ]
    )
    mcp = MCPServerStreamableHttp(
        {"url": f"{server.base}/mcp", "headers": {"Authorization": f"Bearer {token}"}},
        use_structured_content=True,
        client_session_timeout_seconds=30,
    )
    async with mcp:
        agent = Agent(
            name="planner",
            instructions="Plan the user's day with their todo list.",
            model=model,
            mcp_servers=[mcp],
        )
        result = await Runner.run(
            agent,
            "Add milk and eggs, the dentist today; plan my day.",
            run_config=RunConfig(tracing_disabled=True),  # no network: nothing is exported
        )
    assert result.final_output == "Today: Dentist, then Buy eggs, then Buy milk"
    offered = {tool.name for tool in model.first_call.tools} if model.first_call else set()
    assert {"get_overview", "add_tasks", "complete_tasks", "move_task", "find_tasks"} <= offered
    overview = _output_of(model.calls[1], "look")
    assert (overview["pending"], overview["overdue"]) == (1, 1)
    rows = await db.fetch(
        "SELECT title, completed FROM tasks WHERE user_id = $1 ORDER BY position", user_id
    )
    assert [(r["title"], r["completed"]) for r in rows] == [
        ("Dentist", False),
        ("Buy eggs", False),
        ("Buy milk", False),
        ("Pay rent", True),
    ]
    assert model.remaining_steps == 0


def _stdio(database_url: str, token: str | None) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": database_url}
    if token is not None:
        env["TODO_API_TOKEN"] = token
    return env


async def test_todo_api_mcp_serves_the_tools_over_stdio(
    database_url: str, db: asyncpg.Connection, serve: Callable[..., Server]
) -> None:
    server = serve(server_env(database_url))
    user_id, _, token = await account(server.base)
    params = StdioServerParameters(
        command=str(BIN / "todo-api"), args=["mcp"], env=_stdio(database_url, token), cwd=ROOT
    )
    async with Client(params) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert len(names) == 9 and names[0] == "find_tasks"
        added = await client.call_tool(
            "add_tasks", {"tasks": [{"title": "from the desktop"}, {"title": "and another"}]}
        )
        assert not added.is_error, added.content
        ids = [t["id"] for t in added.structured_content["tasks"]]
        done = await client.call_tool("complete_tasks", {"ids": ids[:1]})
        assert done.structured_content["tasks"][0]["completed"] is True
        found = await client.call_tool("find_tasks", {"status": "pending"})
        assert [t["title"] for t in found.structured_content["tasks"]] == ["and another"]
        refused = await client.call_tool("get_task", {"id": 2**62})
        assert refused.is_error
        assert isinstance(refused.content[0], types.TextContent)
        assert f"Task {2**62} not found" in refused.content[0].text
        # The token deleted while the server runs: its calls fail from then on.
        await db.execute("DELETE FROM personal_tokens WHERE user_id = $1", user_id)
        gone = await client.call_tool("find_tasks", {})
        assert gone.is_error
    rows = await db.fetch("SELECT title FROM tasks WHERE user_id = $1 ORDER BY id", user_id)
    assert [r["title"] for r in rows] == ["from the desktop", "and another"]


def run_mcp(database_url: str, token: str | None) -> subprocess.CompletedProcess[str]:
    """`todo-api mcp` with nothing on its standard input."""
    return subprocess.run(
        [str(BIN / "todo-api"), "mcp"],
        env=_stdio(database_url, token),
        cwd=ROOT,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("token", [None, "tdo_not-a-token", "not even the prefix"])
def test_todo_api_mcp_without_a_valid_token_exits_1_with_one_line(
    database_url: str, token: str | None
) -> None:
    run = run_mcp(database_url, token)
    assert run.returncode == 1, run
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "TODO_API_TOKEN" in lines[0], run.stderr


async def test_todo_api_mcp_refuses_an_inactive_account_s_token(
    database_url: str, db: asyncpg.Connection, serve: Callable[..., Server]
) -> None:
    server = serve(server_env(database_url))
    user_id, _, token = await account(server.base)
    await db.execute("UPDATE users SET is_active = false WHERE id = $1", user_id)
    run = await asyncio.to_thread(run_mcp, database_url, token)
    assert run.returncode == 1 and len(run.stderr.splitlines()) == 1, run
    assert "inactive" in run.stderr
