"""The AuthenticationBackend: decodes the bearer token once per request. It never rejects a
request itself; routes that need a user call `require_user`, so a stale token does not stop
someone from logging in again.

A token is the service's own (HS256, naming a session), a personal access token (`tdo_...`,
auth/personal.py, looked up through `personal`, which app.py wires to the database) or, with
AUTH_JWKS_URL set, a trusted issuer's (auth/issuer.py); the first accepted token of an issuer's
`sub` makes its account, through `provision`, which app.py wires to the database. A personal
token used beyond what it may do (auth/personal.py, `refusal`) is the one thing refused here,
before any route reads the request: TokenRefused, a 403."""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection, Request

from todo_api.auth.personal import is_personal, refusal
from todo_api.auth.tokens import VERIFIED_TOKENS, InvalidToken, read_token
from todo_api.caller import Caller
from todo_api.problems import Problem

if TYPE_CHECKING:  # imported by app.py only when a trusted issuer is configured (httpx)
    from todo_api.auth.issuer import ExternalClaims, TrustedIssuer

log = logging.getLogger("todo_api")

Provision = Callable[[HTTPConnection, "ExternalClaims"], Awaitable[None]]
PersonalLookup = Callable[[HTTPConnection, str], Awaitable[Caller]]


class AccountUnavailable(AuthenticationError):
    """A trusted issuer's account or a personal token could not be looked up or made (the
    database is down)."""


class TokenRefused(AuthenticationError):
    """A valid personal access token, used for what it may not do: 403."""


class TokenUser(BaseUser):
    """The caller a valid token names; whether they may still act is the database's to say."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.id = caller.user_id

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.id

    @property
    def identity(self) -> str:
        return self.id


class NoUser(BaseUser):
    """No usable token; `token_sent` tells a missing token from a bad one (RFC 6750 error)."""

    def __init__(self, token_sent: bool) -> None:
        self.token_sent = token_sent

    @property
    def is_authenticated(self) -> bool:
        return False


class BearerTokenBackend(AuthenticationBackend):
    def __init__(
        self,
        secret: str,
        issuer: TrustedIssuer | None = None,
        provision: Provision | None = None,
        personal: PersonalLookup | None = None,
    ) -> None:
        self.secret = secret
        self.issuer = issuer
        self.provision = provision
        self.personal = personal
        # Issuer tokens whose account is known to exist, until they expire: one insert per
        # token, not one per request.
        self._provisioned: collections.OrderedDict[str, int] = collections.OrderedDict()

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        header = conn.headers.get("authorization")
        if header is None:
            return AuthCredentials(), NoUser(token_sent=False)
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return AuthCredentials(), NoUser(token_sent=True)
        try:
            if self.personal is not None and is_personal(token):
                caller = await self.personal(conn, token)
            elif self.issuer is not None and self.issuer.looks_external(token):
                caller = await self._external(conn, token)
            else:
                caller = read_token(self.secret, token)
        except InvalidToken:
            return AuthCredentials(), NoUser(token_sent=True)
        if caller.personal:
            reason = refusal(conn.scope.get("method", "GET"), conn.scope["path"], caller)
            if reason is not None:
                raise TokenRefused(reason)
        return AuthCredentials(["authenticated"]), TokenUser(caller)

    async def _external(self, conn: HTTPConnection, token: str) -> Caller:
        assert self.issuer is not None
        claims = await self.issuer.verify(token)
        if self.provision is not None and token not in self._provisioned:
            await self.provision(conn, claims)
            self._provisioned[token] = claims.expires
            while len(self._provisioned) > VERIFIED_TOKENS:
                self._provisioned.popitem(last=False)
            now = time.time()
            expired = [t for t, exp in itertools.islice(self._provisioned.items(), 2) if exp <= now]
            for old in expired:
                del self._provisioned[old]
        return Caller(claims.subject, None)


def unauthorized(token_sent: bool, detail: str) -> Problem:
    challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    return Problem(401, detail, headers={"WWW-Authenticate": challenge})


def require_user(request: Request) -> Caller:
    """The token's caller, or a 401 problem."""
    user = request.user
    if isinstance(user, TokenUser):
        return user.caller
    token_sent = isinstance(user, NoUser) and user.token_sent
    detail = "The access token is invalid or expired" if token_sent else "Not authenticated"
    raise unauthorized(token_sent, detail)
