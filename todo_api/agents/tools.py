"""The nine tools agents call (MCP, docs/api.md "Agents: MCP at /mcp"), each a thin
adapter: its arguments are validated by the REST body or query model they stand for
(todo_api/models/agents.py), and it does its work with the very functions the REST routes use
(routes/tasks.py's helpers, db/tasks.py), so every rule (validation, ownership, the caller
rule, atomicity, the change feed) is stated once. What the tools add is only theirs: several
tasks or ids in one call, all or none, in one transaction.

A tool that cannot do its work raises a Problem, as a route does: the server
(todo_api/agents/server.py) answers it as a tool result with isError and the problem's text,
which names the field or the id."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel

from todo_api.caller import Caller
from todo_api.cursors import CursorCodec
from todo_api.db import lists, tasks
from todo_api.db.pool import Database, Runner
from todo_api.models import agents as io
from todo_api.models.tasks import task_json
from todo_api.models.time import known_reminder_fields, today_in
from todo_api.payloads import json_value, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import refuse_user
from todo_api.routes.tasks import insert, move, not_found, set_completed, task_page, update
from todo_api.schedules import owner_zone

ARGUMENTS: Final = "arguments"  # the head of an error's loc, where REST says "body" or "query"


@dataclass(frozen=True)
class ToolContext:
    """What a tool call acts with: the caller its token names, the database, and the cursor
    codec of the listing."""

    db: Database
    cursors: CursorCodec
    caller: Caller


ArgsT = TypeVar("ArgsT", bound=BaseModel)


@dataclass(frozen=True)
class Tool(Generic[ArgsT]):
    """One tool: its name and text for the agent, what it takes and answers (the models its
    schemas are made from), what it does, how its answer reads in a line or a few, and the
    hints clients show (read-only, destructive, idempotent)."""

    name: str
    title: str
    description: str
    arguments: type[ArgsT]
    result: type[BaseModel]
    run: Callable[[ToolContext, ArgsT], Awaitable[dict[str, Any]]]
    summary: Callable[[dict[str, Any]], str]
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    hidden: frozenset[str] = frozenset()  # fields of `arguments` left out of the schema
    # What the route does to its body before validating it, done to the arguments.
    prepare: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda arguments: arguments

    def validated(self, arguments: Mapping[str, Any]) -> ArgsT:
        return validated(self.arguments, self.prepare(arguments), where=ARGUMENTS)


def _task_line(task: Mapping[str, Any]) -> str:
    """A task in one line: what an agent needs to say it or act on it."""
    parts = [f"#{task['id']} {task['title']} (list #{task['list_id']})"]
    if task["completed"]:
        parts.append("completed")
    if task["due_date"] is not None:
        parts.append(f"due {task['due_date']}")
    if task["priority"] != "none":
        parts.append(f"{task['priority']} priority")
    if task["tags"]:
        parts.append("tags " + ", ".join(task["tags"]))
    return " - ".join(parts)


def _tasks_text(head: str, found: list[dict[str, Any]]) -> str:
    return "\n".join([head, *(_task_line(task) for task in found)])


def _tasks(rows: list[Any]) -> list[dict[str, Any]]:
    return [json_value(task_json(row)) for row in rows]


HIDDEN: Final = frozenset({"tz"})  # find_tasks: the user's zone is theirs, not the agent's


async def find_tasks(context: ToolContext, args: io.FindTasks) -> dict[str, Any]:
    page, cursor = await task_page(context.db, context.cursors, context.caller, args, ARGUMENTS)
    return {"tasks": _tasks(page.rows), "total": page.total, "next_cursor": cursor}


def _found_text(result: dict[str, Any]) -> str:
    shown, total = len(result["tasks"]), result["total"]
    more = " (more: pass next_cursor as cursor)" if result["next_cursor"] else ""
    return _tasks_text(f"{shown} of {total} matching tasks{more}:", result["tasks"])


async def get_task(context: ToolContext, args: io.GetTask) -> dict[str, Any]:
    row = await tasks.get_task(context.db, context.caller, args.id)
    if row is None:
        await not_found(context.db, context.caller, "Task", args.id)
    return {"task": json_value(task_json(row))}


async def list_tags(context: ToolContext, args: io.NoArguments) -> dict[str, Any]:
    owner, counts = await tasks.tag_counts(context.db, context.caller)
    refuse_user(owner)
    return {"tags": [{"name": name, "count": count} for name, count in counts]}


def _tags_line(tags: list[dict[str, Any]]) -> str:
    return "Tags: " + ", ".join(f"{t['name']} ({t['count']})" for t in tags) if tags else "No tags."


def _tags_text(result: dict[str, Any]) -> str:
    return _tags_line(result["tags"])


async def get_overview(context: ToolContext, args: io.NoArguments) -> dict[str, Any]:
    now = datetime.now(UTC)
    zone = await owner_zone(context.db, context.caller)
    seen = await tasks.overview(context.db, context.caller, today_in(zone or "UTC", now), now)
    refuse_user(seen.owner)
    owner, rows = await lists.all_lists(context.db, context.caller)  # GET /lists' own
    refuse_user(owner)
    counts = dataclasses.asdict(seen)
    del counts["owner"], counts["top_tags"]
    return {
        **counts,
        "lists": [{name: row[name] for name in ("id", "name", "pending_count")} for row in rows],
        "top_tags": [{"name": name, "count": count} for name, count in seen.top_tags],
    }


def _overview_text(result: dict[str, Any]) -> str:
    counts = (
        f"{result['pending']} pending, {result['completed']} completed; {result['overdue']} "
        f"overdue, {result['due_today']} due today, {result['due_next_7_days']} due in the "
        "next 7 days."
    )
    shown = ", ".join(
        f"{a['name']} (#{a['id']}: {a['pending_count']} pending)" for a in result["lists"]
    )
    return f"{counts}\nLists: {shown}\n{_tags_line(result['top_tags'])}"


async def add_tasks(context: ToolContext, args: io.AddTasks) -> dict[str, Any]:
    async with context.db.transaction() as tx:
        rows = [await insert(tx, context.caller, body, ARGUMENTS) for body in args.tasks]
    return {"tasks": _tasks(rows)}


async def update_task(context: ToolContext, args: io.UpdateTask) -> dict[str, Any]:
    row = await update(context.db, context.caller, args.id, args, None, ARGUMENTS)
    return {"task": json_value(task_json(row))}


async def _each(
    context: ToolContext, ids: list[int], act: Callable[[Runner, int], Awaitable[Any]]
) -> list[Any]:
    """`act` on every id (each once, in the order given) in one transaction: when one is not
    the caller's task, nothing changes and the problem names it."""
    async with context.db.transaction() as tx:
        done = []
        for task_id in dict.fromkeys(ids):
            row = await act(tx, task_id)
            if row is None:
                try:
                    await not_found(tx, context.caller, "Task", task_id)
                except Problem as problem:
                    detail = f"{problem.detail}: nothing was changed"
                    raise Problem(problem.status, detail, headers=problem.headers) from None
            done.append(row)
        return done


async def complete_tasks(context: ToolContext, args: io.CompleteTasks) -> dict[str, Any]:
    async def complete(tx: Runner, task_id: int) -> Any:
        return await set_completed(tx, context.caller, task_id, args.completed, None)

    return {"tasks": _tasks(await _each(context, args.ids, complete))}


async def move_task(context: ToolContext, args: io.MoveTask) -> dict[str, Any]:
    row = await move(context.db, context.caller, args.id, args, None, where=ARGUMENTS)
    return {"task": json_value(task_json(row))}


async def delete_tasks(context: ToolContext, args: io.DeleteTasks) -> dict[str, Any]:
    async def delete(tx: Runner, task_id: int) -> Any:
        return task_id if await tasks.delete_task(tx, context.caller, task_id) else None

    return {"deleted": await _each(context, args.ids, delete)}


def _known_reminder_fields(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    return known_reminder_fields(dict(arguments)) or {}


def _each_task_known_reminder_fields(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    """add_tasks: each task as the create route takes its body."""
    given = arguments.get("tasks")
    if not isinstance(given, list):
        return arguments
    return {
        **arguments,
        "tasks": [_known_reminder_fields(t) if isinstance(t, dict) else t for t in given],
    }


def _one_task(result: dict[str, Any]) -> str:
    return _task_line(result["task"])


TOOLS: Final[tuple[Tool[Any], ...]] = (
    Tool(
        name="find_tasks",
        title="Find tasks",
        description="Find the user's tasks: filter by status, text (q), tags (all of them), "
        "priorities (any of them), list (list_id, from get_overview), due dates and overdue; "
        "sort and page with next_cursor. Answers the tasks and how many match in all.",
        arguments=io.FindTasks,
        result=io.FoundTasks,
        run=find_tasks,
        summary=_found_text,
        hidden=HIDDEN,
        read_only=True,
    ),
    Tool(
        name="get_task",
        title="Get a task",
        description="One of the user's tasks by its id.",
        arguments=io.GetTask,
        result=io.OneTask,
        run=get_task,
        summary=_one_task,
        read_only=True,
    ),
    Tool(
        name="list_tags",
        title="List tags",
        description="Every tag on the user's tasks, with how many tasks carry it, by name.",
        arguments=io.NoArguments,
        result=io.Tags,
        run=list_tags,
        summary=_tags_text,
        read_only=True,
    ),
    Tool(
        name="get_overview",
        title="Overview",
        description="The user's tasks at a glance: how many are pending, completed, overdue, "
        "due today and due in the next 7 days (days in the user's zone), their lists with "
        "pending counts, and the most used tags. A good first call to plan a day.",
        arguments=io.NoArguments,
        result=io.Overview,
        run=get_overview,
        summary=_overview_text,
        read_only=True,
    ),
    Tool(
        name="add_tasks",
        title="Add tasks",
        description="Create 1 to 25 tasks, each with the fields of a new task (title "
        "required; list_id: a list from get_overview, else the default list). All are "
        "created, or none (the error names the task and field).",
        arguments=io.AddTasks,
        result=io.SomeTasks,
        run=add_tasks,
        prepare=_each_task_known_reminder_fields,
        summary=lambda result: _tasks_text(f"Added {len(result['tasks'])}:", result["tasks"]),
    ),
    Tool(
        name="update_task",
        title="Update a task",
        description="Change any of a task's fields (at least one besides id): only those "
        "given change; null clears the description or the due date; tags replace the list.",
        arguments=io.UpdateTask,
        result=io.OneTask,
        run=update_task,
        prepare=_known_reminder_fields,
        summary=_one_task,
        idempotent=True,
    ),
    Tool(
        name="complete_tasks",
        title="Complete tasks",
        description="Mark 1 to 25 tasks completed (or, with completed false, not completed). "
        "All or none: an id that is not one of the user's tasks changes nothing.",
        arguments=io.CompleteTasks,
        result=io.SomeTasks,
        run=complete_tasks,
        summary=lambda result: _tasks_text(f"Set {len(result['tasks'])}:", result["tasks"]),
        idempotent=True,
    ),
    Tool(
        name="move_task",
        title="Move a task",
        description="Put a task right after another task of its list (after: its id), or at "
        "the top of the list (after: null); with list_id, into that list (after: a task of "
        "it, or null).",
        arguments=io.MoveTask,
        result=io.OneTask,
        run=move_task,
        summary=_one_task,
        idempotent=True,
    ),
    Tool(
        name="delete_tasks",
        title="Delete tasks",
        description="Delete 1 to 25 of the user's tasks for good. All or none: an id that is "
        "not one of the user's tasks deletes nothing.",
        arguments=io.DeleteTasks,
        result=io.DeletedTasks,
        run=delete_tasks,
        summary=lambda result: "Deleted " + ", ".join(f"#{i}" for i in result["deleted"]),
        destructive=True,
        idempotent=True,
    ),
)
