"""Register, log in, and who am I."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from todo_api.auth.backend import require_user, unauthorized
from todo_api.auth.tokens import issue_token
from todo_api.db import users
from todo_api.models import LoginBody, LoginForm, LoginOut, RegisterBody, UserOut, user_json
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, json_object, json_or_form, validated
from todo_api.problems import Problem
from todo_api.services import Services, services

WRONG_CREDENTIALS = "Incorrect email, username or password"
INACTIVE = "This account is inactive"


def _login_response(svc: Services, user: asyncpg.Record) -> dict[str, Any]:
    ttl = svc.settings.access_token_ttl_seconds
    return {
        "access_token": issue_token(svc.settings.jwt_secret, user["id"], ttl),
        "token_type": "bearer",
        "expires_in": ttl,
        "user": user_json(user),
    }


@operation(
    operation_id="register",
    summary="Create an account and log in",
    tag="auth",
    body=RegisterBody,
    replies=(Reply(201, "The new account, logged in.", LoginOut, headers=("Location",)),),
    errors=(400, 409, 413, 415, 422, 429, 503),
    secured=False,
)
async def register(request: Request) -> Response:
    body = validated(RegisterBody, await json_object(request))
    svc = services(request)
    password_hash = await svc.hasher.hash(body.password)
    try:
        user = await users.insert_user(svc.db, body.email, body.username, password_hash)
    except users.UserConflict as exc:
        raise Problem(409, f"That {exc.field} is already taken") from None
    headers = {"Location": "/api/auth/me"}
    return JSONResponse(_login_response(svc, user), status_code=201, headers=headers)


@operation(
    operation_id="login",
    summary="Log in with an email or username and a password",
    tag="auth",
    body=LoginBody,
    form=LoginForm,
    replies=(Reply(200, "A token for the account.", LoginOut),),
    errors=(400, 401, 403, 413, 415, 422, 429, 503),
    secured=False,
)
async def login(request: Request) -> Response:
    body = validated(LoginBody, await json_or_form(request))
    svc = services(request)
    user = await users.user_for_login(svc.db, body.login)
    stored = user["hashed_password"] if user is not None else None
    if not await svc.hasher.verify(body.password, stored) or user is None:
        raise unauthorized(token_sent=False, detail=WRONG_CREDENTIALS)
    if not user["is_active"]:
        raise Problem(403, INACTIVE)
    return JSONResponse(_login_response(svc, user))


@operation(
    operation_id="me",
    summary="The token's user",
    tag="auth",
    replies=(Reply(200, "The user.", UserOut),),
    errors=(401, 403, 503),
)
async def me(request: Request) -> Response:
    caller = require_user(request)
    user = await users.get_user(services(request).db, caller.user_id)
    if user is None:
        raise unauthorized(token_sent=True, detail="The token's user no longer exists")
    if not user["is_active"]:
        raise Problem(403, INACTIVE)
    return JSONResponse(user_json(user))
