"""The agents' tools (MCP, todo_api/agents/): what each takes and answers. Every input is the
REST body or query model it stands for, with the task id added where the path held it, so a
field added to a task (TaskCreate, TaskUpdate, TaskMove, TaskListQuery) reaches the tools with
no change here; the outputs are made of TaskOut and TagCount."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from todo_api.models.common import MAX_ROW_ID, ROW_ID_SCHEMA, Body, RowId
from todo_api.models.tasks import TagCount, TaskCreate, TaskListQuery, TaskMove, TaskOut, TaskUpdate

BATCH_MAX: Final = 25  # tasks or ids one call of add_tasks, complete_tasks or delete_tasks takes
FIND_LIMIT_MAX: Final = 100
FIND_LIMIT_DEFAULT: Final = 20

TaskId = Annotated[
    RowId, WithJsonSchema({**ROW_ID_SCHEMA, "description": "A task id of the user's."})
]
TaskIds = Annotated[
    list[TaskId],
    Field(min_length=1, max_length=BATCH_MAX, description="1 to 25 task ids of the user's."),
]


# find_tasks' names for the listing's query parameters (the others keep theirs; `list` is
# list_id, as in a task).
FIND_NAMES: Final = {"tag": "tags", "priority": "priorities"}


class FindTasks(TaskListQuery):
    """find_tasks: the listing's query under the tool's names, with smaller pages, and
    `overdue` a JSON boolean (`tz` is not the agent's: days are the user's, agents/tools.py)."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=lambda name: FIND_NAMES.get(name, name))
    )

    list_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID)] | None = Field(
        None, validation_alias="list_id", description="Only this list's tasks (one of the user's)."
    )
    limit: Annotated[int, Field(ge=1, le=FIND_LIMIT_MAX)] = FIND_LIMIT_DEFAULT

    @field_validator("overdue", mode="before")
    @classmethod
    def _overdue_in_words(cls, value: Any) -> Any:
        """The query string's words for a JSON boolean."""
        return ("true" if value else "false") if isinstance(value, bool) else value


class NoArguments(Body):
    """A tool that takes nothing."""


class GetTask(Body):
    id: TaskId


class AddTasks(Body):
    tasks: Annotated[
        list[TaskCreate],
        Field(min_length=1, max_length=BATCH_MAX, description="1 to 25 tasks: all or none."),
    ]


class UpdateTask(TaskUpdate):
    """update_task: the id, and any of the PUT body's fields (at least one)."""

    id: TaskId


class CompleteTasks(Body):
    ids: TaskIds
    completed: bool = Field(True, description="false: mark them not completed.")


class MoveTask(TaskMove):
    """move_task: the id, and the move body's fields."""

    id: TaskId


class DeleteTasks(Body):
    ids: TaskIds


class FoundTasks(BaseModel):
    tasks: list[TaskOut]
    total: int = Field(ge=0, description="Tasks matching the filters, across all pages.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


class OneTask(BaseModel):
    task: TaskOut


class SomeTasks(BaseModel):
    tasks: list[TaskOut]


class Tags(BaseModel):
    tags: list[TagCount]


class ListCount(BaseModel):
    id: int
    name: str
    pending_count: int = Field(ge=0)


class Overview(BaseModel):
    pending: int = Field(ge=0)
    completed: int = Field(ge=0)
    overdue: int = Field(ge=0, description="As find_tasks' overdue=true counts them.")
    due_today: int = Field(ge=0, description="Pending tasks due today (in the user's zone).")
    due_next_7_days: int = Field(ge=0, description="Pending tasks due in the 7 days after today.")
    lists: list[ListCount]
    top_tags: list[TagCount] = Field(description="The 5 tags most of the user's tasks carry.")


class DeletedTasks(BaseModel):
    deleted: list[int]
