"""The list routes. Each first checks that the token's user is the path's user (else 403); the
SQL then touches only that user's lists, so another user's list is simply not found (404)."""

from __future__ import annotations

from typing import Any, NoReturn

from starlette.requests import Request
from starlette.responses import Response

from todo_api import urls
from todo_api.caller import Caller
from todo_api.conditional import (
    if_match_versions,
    not_modified,
    task_etag,
    versioned,
    with_weak_etag,
)
from todo_api.db import lists
from todo_api.db.pool import Runner
from todo_api.dispatch import by_method
from todo_api.models.lists import ListCreate, ListMove, ListOut, ListRename, list_json
from todo_api.openapi import Reply, operation
from todo_api.payloads import json_object, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import AUTHORISED, refuse_user
from todo_api.routes.tasks import not_found, owner_of, path_id
from todo_api.services import services

# A created list's id, for the document's links (create, then get, rename, move, delete).
LIST_LINK = {"user_id": "$request.path.user_id", "list_id": "$response.body#/id"}
LIST_LINKS = {
    name: {"operationId": name, "parameters": LIST_LINK}
    for name in ("getList", "renameList", "moveList", "deleteList")
}


def _list_id(request: Request) -> int:
    return path_id(request, "list_id", "List")


async def _not_found(db: Runner, caller: Caller, list_id: int | None) -> NoReturn:
    await not_found(db, caller, "List", list_id)


async def _not_written(
    db: Runner, caller: Caller, list_id: int, if_match: list[int] | None, deleting: bool = False
) -> NoReturn:
    """A write found no row: the caller may not act, the list is missing (404), it is the
    default list and this was a delete (409), or it exists at another version than If-Match
    named (412 with its current ETag). Nothing changed."""
    current = await lists.get_list(db, caller, list_id)
    if current is None:
        await _not_found(db, caller, list_id)
    etag = task_etag(current["version"])
    if if_match is not None and current["version"] not in if_match:
        detail = f"List {list_id} has changed: its ETag is now {etag}"
        raise Problem(412, detail, headers={"ETag": etag})
    if deleting and current["is_default"]:
        raise Problem(409, f"List {list_id} is the default list: it cannot be deleted")
    await _not_found(db, caller, list_id)  # deleted meanwhile


def _name_taken(name: str) -> Problem:
    return Problem(409, f"A list named {name!r} exists already (names ignore case)")


def _list_response(
    row: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """One list, with its ETag."""
    return versioned(list_json(row), row["version"], status_code, headers)


@operation(
    operation_id="listLists",
    summary="The user's lists in their manual order, with their counts",
    tag="lists",
    replies=(
        Reply(200, "The lists.", ListOut, many=True, headers=("ETag",)),
        Reply(304, "If-None-Match held the ETag of the lists.", headers=("ETag",)),
    ),
    errors=AUTHORISED,
    request_headers=("If-None-Match",),
)
async def list_lists(request: Request) -> Response:
    caller = owner_of(request)
    owner, rows = await lists.all_lists(services(request).db, caller)
    refuse_user(owner)
    return with_weak_etag(request, [list_json(row) for row in rows])


@operation(
    operation_id="createList",
    summary="Create a list, at the bottom of the user's lists",
    tag="lists",
    body=ListCreate,
    replies=(Reply(201, "The list.", ListOut, headers=("Location", "ETag"), links=LIST_LINKS),),
    errors=(400, 409, 413, 415, 422, *AUTHORISED),
)
async def create_list(request: Request) -> Response:
    caller = owner_of(request)
    body = validated(ListCreate, await json_object(request))
    db = services(request).db
    try:
        row = await lists.insert_list(db, caller, body.name)
    except lists.NameTaken:
        raise _name_taken(body.name) from None
    except lists.TooManyLists:
        msg = f"A user has at most {lists.MAX_LISTS} lists"
        error = {"loc": ["body"], "msg": msg, "type": "too_many_lists"}
        raise Problem(422, f"Invalid request body: {msg}", errors=[error]) from None
    if row is None:
        await _not_found(db, caller, None)
    location = urls.path("api", caller.user_id, "lists", row["id"])
    return _list_response(row, 201, {"Location": location})


@operation(
    operation_id="getList",
    summary="Get a list, with its counts",
    tag="lists",
    replies=(
        Reply(200, "The list.", ListOut, headers=("ETag",)),
        Reply(304, "If-None-Match held the list's ETag.", headers=("ETag",)),
    ),
    errors=(404, *AUTHORISED),
    request_headers=("If-None-Match",),
)
async def get_list(request: Request) -> Response:
    caller = owner_of(request)
    list_id = _list_id(request)
    db = services(request).db
    row = await lists.get_list(db, caller, list_id)
    if row is None:
        await _not_found(db, caller, list_id)
    return not_modified(request, task_etag(row["version"])) or _list_response(row)


@operation(
    operation_id="renameList",
    summary="Rename a list",
    tag="lists",
    body=ListRename,
    replies=(Reply(200, "The renamed list.", ListOut, headers=("ETag",)),),
    errors=(400, 404, 409, 412, 413, 415, 422, *AUTHORISED),
    request_headers=("If-Match",),
)
async def rename_list(request: Request) -> Response:
    caller = owner_of(request)
    list_id = _list_id(request)
    body = validated(ListRename, await json_object(request))
    db = services(request).db
    if_match = if_match_versions(request.headers.get("if-match"))
    try:
        row = await lists.change_list(db, caller, list_id, name=body.name, if_match=if_match)
    except lists.NameTaken:
        raise _name_taken(body.name) from None
    if row is None:
        await _not_written(db, caller, list_id, if_match)
    return _list_response(row)


@operation(
    operation_id="deleteList",
    summary="Delete a list and its tasks (never the default list)",
    tag="lists",
    replies=(Reply(204, "Deleted, with its tasks."),),
    errors=(404, 409, 412, *AUTHORISED),
    request_headers=("If-Match",),
)
async def delete_list(request: Request) -> Response:
    caller = owner_of(request)
    list_id = _list_id(request)
    db = services(request).db
    if_match = if_match_versions(request.headers.get("if-match"))
    if not await lists.delete_list(db, caller, list_id, if_match=if_match):
        await _not_written(db, caller, list_id, if_match, deleting=True)
    return Response(status_code=204)


@operation(
    operation_id="moveList",
    summary="Put a list right after another of the user's lists, or first",
    tag="lists",
    body=ListMove,
    replies=(
        Reply(200, "The moved list (only its position changed).", ListOut, headers=("ETag",)),
    ),
    errors=(400, 404, 412, 413, 415, 422, *AUTHORISED),
    request_headers=("If-Match",),
)
async def move_list(request: Request) -> Response:
    caller = owner_of(request)
    list_id = _list_id(request)
    body = validated(ListMove, await json_object(request))
    db = services(request).db
    if_match = if_match_versions(request.headers.get("if-match"))
    try:
        move = lists.Move(body.after)
        row = await lists.change_list(db, caller, list_id, move=move, if_match=if_match)
    except lists.MoveRefused:
        detail = f"List {list_id} cannot be moved after list {body.after}"
        error = {
            "loc": ["body", "after"],
            "msg": "Not another list of this user's",
            "type": "invalid_after",
        }
        raise Problem(422, f"Invalid request body: {detail}", errors=[error]) from None
    if row is None:
        await _not_written(db, caller, list_id, if_match)
    return _list_response(row)


# /api/{user_id}/lists
list_collection = by_method(get=list_lists, post=create_list)
# /api/{user_id}/lists/{list_id}
list_item = by_method(get=get_list, patch=rename_list, delete=delete_list)
