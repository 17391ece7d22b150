"""Accounts: register, log in, refresh, log out, sessions, me, password."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from todo_api import metrics
from todo_api.auth.backend import require_user, unauthorized
from todo_api.auth.passwords import HasherBusy
from todo_api.auth.tokens import (
    REFRESH_TOKEN_MAX_CHARS,
    issue_token,
    new_refresh_token,
    refresh_token_hash,
)
from todo_api.caller import Caller
from todo_api.db import accounts, logins, sessions, users
from todo_api.dispatch import by_method
from todo_api.models.auth import (
    LoginBody,
    LoginForm,
    LoginOut,
    MeUpdate,
    PasswordChange,
    PasswordConfirmation,
    RefreshBody,
    RegisterBody,
    SessionOut,
    UserOut,
    session_json,
    user_json,
    username_base,
)
from todo_api.openapi import Reply, operation
from todo_api.payloads import JSONResponse, json_object, json_or_form, validated
from todo_api.problems import Problem
from todo_api.routes.refusals import AUTHORISED, INACTIVE, refuse_user, refused
from todo_api.schedules import rezone
from todo_api.services import Services, services

WRONG_CREDENTIALS = "Incorrect email, username or password"
WRONG_PASSWORD = "The password is wrong"
BAD_REFRESH_TOKEN = "The refresh token is invalid, expired or already used"
NO_SESSION = "Tokens of a trusted issuer have no session here"
USER_AGENT_MAX_CHARS = 200


def _lifetimes(svc: Services) -> sessions.Lifetimes:
    return sessions.Lifetimes(
        refresh_ttl_seconds=svc.settings.refresh_token_ttl_seconds,
        session_max_seconds=svc.settings.session_max_seconds,
    )


def _user_agent(request: Request) -> str | None:
    agent = request.headers.get("user-agent")
    return agent.replace("\x00", "")[:USER_AGENT_MAX_CHARS] if agent else None


def client_address(request: Request) -> str:
    """The address uvicorn reports: X-Forwarded-For only from FORWARDED_ALLOW_IPS."""
    return request.client.host if request.client else "unknown"


def _login_response(
    svc: Services, user: asyncpg.Record, started: sessions.Started, refresh_token: str
) -> dict[str, Any]:
    ttl = svc.settings.access_token_ttl_seconds
    caller = Caller(user["id"], started.session_id)
    return {
        "access_token": issue_token(svc.settings.jwt_secret, caller, ttl),
        "token_type": "bearer",
        "expires_in": ttl,
        "refresh_token": refresh_token,
        "refresh_expires_in": started.refresh_expires_in,
        "user": user_json(user),
    }


def _taken(conflict: users.UserConflict) -> Problem:
    return Problem(409, f"That {conflict.field} is already taken")


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
    new_user = users.NewUser(
        email=body.email,
        username=body.username,
        base_username=username_base(body.email),
        password_hash=await svc.hasher.hash(body.password),
        name=body.name,
    )
    refresh_token, token_hash = new_refresh_token()
    try:
        user, started = await accounts.register(
            svc.db, new_user, token_hash, _lifetimes(svc), _user_agent(request)
        )
    except users.UserConflict as exc:
        raise _taken(exc) from None
    return JSONResponse(
        _login_response(svc, user, started, refresh_token),
        status_code=201,
        headers={"Location": "/api/auth/me"},
    )


@operation(
    operation_id="login",
    summary="Log in with an email or username and a password",
    tag="auth",
    body=LoginBody,
    form=LoginForm,
    replies=(Reply(200, "Tokens for a new session of the account.", LoginOut),),
    errors=(400, 401, 403, 413, 415, 422, 429, 503),
    secured=False,
)
async def login(request: Request) -> Response:
    body = validated(LoginBody, await json_or_form(request))
    svc = services(request)
    attempt, right = await _throttled_check(request, body.password, login=body.login)
    account = attempt.account
    if not right or account is None:
        raise unauthorized(token_sent=False, detail=WRONG_CREDENTIALS)
    if not account["is_active"]:
        await logins.undo_failure(svc.db, attempt.counted)
        raise Problem(403, INACTIVE)
    refresh_token, token_hash = new_refresh_token()
    started = await sessions.start_session(
        svc.db,
        account["id"],
        token_hash,
        _lifetimes(svc),
        user_agent=_user_agent(request),
        login=attempt.counted,
    )
    return JSONResponse(_login_response(svc, account, started, refresh_token))


async def _throttled_check(
    request: Request, password: str, *, login: str | None = None, user_id: str | None = None
) -> tuple[logins.Attempt, bool]:
    """Check `password` against the account a login (email or username) or a user id names,
    throttled per account and address as docs/api.md says of logins: counted as a failure
    first (so concurrent guesses cannot slip past the limit), 429 with Retry-After and nothing
    checked once the limit is reached. The attempt, and whether the password is the account's;
    a right one's count is cleared by the caller (a login, with its new session)."""
    svc = services(request)
    limits = logins.Limits(svc.settings.login_max_failures, svc.settings.login_window_seconds)
    attempt = await logins.attempt(
        svc.db, client_address(request), limits, login=login, user_id=user_id
    )
    if not attempt.allowed:
        metrics.LOGINS_THROTTLED.inc()
        raise Problem(
            429,
            "Too many failed logins; try again later",
            headers={"Retry-After": str(attempt.retry_after)},
        )
    account = attempt.account
    try:
        right = await svc.hasher.verify(password, account["hashed_password"] if account else None)
    except HasherBusy:
        await logins.undo_failure(svc.db, attempt.counted)
        raise
    if not right or account is None:
        metrics.LOGINS_FAILED.inc()
        return attempt, False
    return attempt, True


@operation(
    operation_id="refresh",
    summary="Trade a refresh token for new tokens of the same session",
    tag="auth",
    body=RefreshBody,
    replies=(Reply(200, "New tokens; the refresh token sent is spent.", LoginOut),),
    errors=(400, 401, 403, 413, 415, 422, 503),
    secured=False,
)
async def refresh(request: Request) -> Response:
    body = validated(RefreshBody, await json_object(request))
    svc = services(request)
    if len(body.refresh_token) > REFRESH_TOKEN_MAX_CHARS:
        raise unauthorized(token_sent=False, detail=BAD_REFRESH_TOKEN)
    new_token, new_hash = new_refresh_token()
    outcome = await sessions.refresh(
        svc.db,
        refresh_token_hash(body.refresh_token),
        new_hash,
        svc.settings.refresh_token_ttl_seconds,
    )
    if outcome.outcome is sessions.Refreshed.INACTIVE:
        raise Problem(403, INACTIVE)
    if outcome.started is None or outcome.user is None:
        raise unauthorized(token_sent=False, detail=BAD_REFRESH_TOKEN)
    return JSONResponse(_login_response(svc, outcome.user, outcome.started, new_token))


def session_caller(request: Request) -> Caller:
    """The caller of a route about sessions: a token of ours, which names one."""
    caller = require_user(request)
    if caller.session_id is None:
        raise Problem(403, NO_SESSION)
    return caller


@operation(
    operation_id="logout",
    summary="End the token's session",
    tag="auth",
    replies=(Reply(204, "The session has ended: its access and refresh tokens are refused."),),
    errors=AUTHORISED,
)
async def logout(request: Request) -> Response:
    caller = session_caller(request)
    await _end(request, caller, caller.session_id)  # ended meanwhile: ended all the same
    return Response(status_code=204)


async def _end(request: Request, caller: Caller, target: str | None) -> int:
    """End the caller's session `target` (None: all of them); how many ended."""
    status, ended = await sessions.end_sessions(services(request).db, caller, target)
    refuse_user(status)
    return ended


@operation(
    operation_id="listSessions",
    summary="The account's active sessions, newest first",
    tag="auth",
    replies=(Reply(200, "The sessions.", SessionOut, many=True),),
    errors=AUTHORISED,
)
async def list_sessions(request: Request) -> Response:
    caller = session_caller(request)
    status, rows = await sessions.list_sessions(services(request).db, caller)
    refuse_user(status)
    return JSONResponse([session_json(row) for row in rows])


@operation(
    operation_id="endAllSessions",
    summary="End every session of the account, the current one included",
    tag="auth",
    replies=(Reply(204, "Every session has ended."),),
    errors=AUTHORISED,
)
async def end_all_sessions(request: Request) -> Response:
    await _end(request, session_caller(request), None)
    return Response(status_code=204)


@operation(
    operation_id="endSession",
    summary="End one session of the account",
    tag="auth",
    replies=(Reply(204, "The session has ended."),),
    errors=(404, *AUTHORISED),
)
async def end_session(request: Request) -> Response:
    target: str = request.path_params["session_id"]
    if not await _end(request, session_caller(request), target):
        raise Problem(404, f"Session {target} not found")
    return Response(status_code=204)


async def _me(request: Request) -> tuple[Caller, asyncpg.Record]:
    """The caller and their account, or the 401/403 the caller rule gives."""
    caller = require_user(request)
    status, user = await users.get_user(services(request).db, caller)
    refuse_user(status)
    return caller, user


async def _check_password(request: Request, password: str | None, user: asyncpg.Record) -> None:
    """403 unless `password` is the account's (an issuer's account has none). Throttled as a
    login of the account from this address: a wrong one counts as a failed login, and once
    the limit is reached the answer is 429 with no password checked; a right one clears the
    count."""
    if password is None:
        raise Problem(403, WRONG_PASSWORD)
    attempt, right = await _throttled_check(request, password, user_id=user["id"])
    if not right:
        raise Problem(403, WRONG_PASSWORD)
    await logins.clear(services(request).db, attempt.counted)


@operation(
    operation_id="me",
    summary="The token's user",
    tag="auth",
    replies=(Reply(200, "The user.", UserOut),),
    errors=AUTHORISED,
)
async def me(request: Request) -> Response:
    _, user = await _me(request)
    return JSONResponse(user_json(user))


@operation(
    operation_id="updateMe",
    summary="Change the username, name, email or time zone (an email change needs the password)",
    tag="auth",
    body=MeUpdate,
    replies=(Reply(200, "The updated user.", UserOut),),
    errors=(400, 409, 413, 415, 422, 429, *AUTHORISED),
)
async def update_me(request: Request) -> Response:
    body = validated(MeUpdate, await json_object(request))
    svc = services(request)
    caller, user = await _me(request)
    if body.email is not None:
        await _check_password(request, body.current_password, user)
    changes = users.UserChanges(
        username=body.username,
        set_name="name" in body.model_fields_set,
        name=body.name,
        email=body.email,
        time_zone=body.time_zone,
    )
    try:
        # A new zone moves the due_at of the tasks without a zone of their own, at once.
        async with svc.db.transaction() as tx:
            updated = await users.update_user(tx, caller, changes)
            if updated is not None and body.time_zone is not None:
                await rezone(tx, caller, body.time_zone)
    except users.UserConflict as exc:
        raise _taken(exc) from None
    if updated is None:
        await refused(svc.db, caller)
    return JSONResponse(user_json(updated))


@operation(
    operation_id="deleteMe",
    summary="Delete the account and everything of it",
    tag="auth",
    body=PasswordConfirmation,
    replies=(Reply(204, "Deleted: the tasks, sessions and sync history too."),),
    errors=(400, 413, 415, 422, 429, *AUTHORISED),
)
async def delete_me(request: Request) -> Response:
    body = validated(PasswordConfirmation, await json_object(request, optional=True) or {})
    svc = services(request)
    caller, user = await _me(request)
    if user["external"]:
        raise Problem(403, "An account of a trusted issuer is deleted there, not here")
    await _check_password(request, body.password, user)
    if not await users.delete_user(svc.db, caller):
        await refused(svc.db, caller)
    return Response(status_code=204)


@operation(
    operation_id="changePassword",
    summary="Change the password: every session ends, and a new one starts",
    tag="auth",
    body=PasswordChange,
    replies=(Reply(200, "Tokens of the new session.", LoginOut),),
    errors=(400, 413, 415, 422, 429, *AUTHORISED),
)
async def change_password(request: Request) -> Response:
    body = validated(PasswordChange, await json_object(request))
    svc = services(request)
    caller, user = await _me(request)
    await _check_password(request, body.current_password, user)
    password_hash = await svc.hasher.hash(body.new_password)
    refresh_token, token_hash = new_refresh_token()
    changed = await accounts.change_password(
        svc.db, caller, password_hash, token_hash, _lifetimes(svc), _user_agent(request)
    )
    if changed is None:
        await refused(svc.db, caller)
    user, started = changed
    return JSONResponse(_login_response(svc, user, started, refresh_token))


# /api/auth/me and /api/auth/sessions
me_routes = by_method(get=me, patch=update_me, delete=delete_me)
sessions_routes = by_method(get=list_sessions, delete=end_all_sessions)
