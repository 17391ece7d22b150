"""The AuthenticationBackend: decodes the bearer token once per request. It never rejects a
request itself; routes that need a user call `require_user`, so a stale token does not stop
someone from logging in again."""

from __future__ import annotations

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection, Request

from todo_api.auth.tokens import InvalidToken, read_token
from todo_api.caller import Caller
from todo_api.problems import Problem


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
    def __init__(self, secret: str) -> None:
        self.secret = secret

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        header = conn.headers.get("authorization")
        if header is None:
            return AuthCredentials(), NoUser(token_sent=False)
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return AuthCredentials(), NoUser(token_sent=True)
        try:
            user_id = read_token(self.secret, token)
        except InvalidToken:
            return AuthCredentials(), NoUser(token_sent=True)
        return AuthCredentials(["authenticated"]), TokenUser(Caller(user_id))


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
