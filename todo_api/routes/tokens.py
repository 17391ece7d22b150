"""Personal access tokens: made, listed and deleted by a signed-in user (a session's token:
a personal token can use no /api/auth/ route but GET /api/auth/me, auth/personal.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from todo_api.auth.personal import new_personal_token
from todo_api.db import tokens
from todo_api.dispatch import by_method
from todo_api.models.tokens import TokenCreate, TokenCreated, TokenOut, token_json
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, json_object, validated
from todo_api.problems import Problem
from todo_api.routes.auth import session_caller
from todo_api.routes.refusals import AUTHORISED, refuse_user
from todo_api.routes.tasks import not_found, path_id
from todo_api.services import services

NOUN = "Personal access token"


@operation(
    operation_id="createToken",
    summary="Make a personal access token (shown in this answer only)",
    tag="tokens",
    body=TokenCreate,
    replies=(Reply(201, "The token, with `token`: it is never shown again.", TokenCreated),),
    errors=(400, 413, 415, 422, *AUTHORISED),
)
async def create_token(request: Request) -> Response:
    caller = session_caller(request)
    body = validated(TokenCreate, await json_object(request))
    token, token_hash = new_personal_token()
    status, row = await tokens.create_token(
        services(request).db, caller, body.name, body.scope, token_hash, body.expires_in_days
    )
    refuse_user(status)
    if row is None:
        detail = f"At most {tokens.MAX_TOKENS} personal access tokens: delete one first"
        error = {"loc": ["body"], "msg": detail, "type": "too_many_tokens"}
        raise Problem(422, detail, errors=[error])
    return JSONResponse(token_json(row, token), status_code=201)


@operation(
    operation_id="listTokens",
    summary="The account's personal access tokens, newest first (never the tokens themselves)",
    tag="tokens",
    replies=(Reply(200, "The tokens that have not expired.", TokenOut, many=True),),
    errors=AUTHORISED,
)
async def list_tokens(request: Request) -> Response:
    status, rows = await tokens.list_tokens(services(request).db, session_caller(request))
    refuse_user(status)
    return JSONResponse([token_json(row) for row in rows])


@operation(
    operation_id="deleteToken",
    summary="Delete a personal access token: refused from then on",
    tag="tokens",
    replies=(Reply(204, "Deleted."),),
    errors=(404, *AUTHORISED),
)
async def delete_token(request: Request) -> Response:
    caller = session_caller(request)
    token_id = path_id(request, "token_id", NOUN)
    db = services(request).db
    if not await tokens.delete_token(db, caller, token_id):
        await not_found(db, caller, NOUN, token_id)
    return Response(status_code=204)


# /api/auth/tokens
token_collection = by_method(get=list_tokens, post=create_token)
