"""The service's own tokens: JWT access tokens (HS256 only; sub, sid, iat, exp and jti
required) and opaque refresh tokens (256 random bits, stored only as their SHA-256)."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid

import jwt

from todo_api.caller import Caller

ALGORITHM = "HS256"
_REQUIRED = ["sub", "sid", "iat", "exp", "jti"]
VERIFIED_TOKENS = 10_000  # tokens remembered after verification (about 2 MB at most)
REFRESH_TOKEN_BYTES = 32  # 256 bits
# A refresh token as this service makes them: 43 URL-safe base64 characters. Anything longer
# is not one, whatever it holds.
REFRESH_TOKEN_MAX_CHARS = 64


class InvalidToken(Exception):
    """The token is malformed, expired, badly signed, or lacks a required claim."""


def issue_token(secret: str, caller: Caller, ttl_seconds: int, now: int | None = None) -> str:
    """An access token for the caller's user and session."""
    issued = int(time.time()) if now is None else now
    claims = {
        "sub": caller.user_id,
        "sid": caller.session_id,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Caller:
    """The caller a valid access token names, or InvalidToken. A client sends the same token
    with every request, so a verified token is remembered until it expires: the signature and
    claims are checked once per token, not once per request. Whether its user and session still
    hold is the database's to say, on every request (sql/_caller.sql)."""
    caller, expires = _verified(secret, token)
    if time.time() >= expires:
        raise InvalidToken("Signature has expired")
    return caller


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(secret: str, token: str) -> tuple[Caller, int]:
    """(caller, exp) of a token whose signature and claims are valid now; failures are not
    cached."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED, "verify_sub": True},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    subject, session = claims.get("sub"), claims.get("sid")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("sub must be a non-empty string")
    if not isinstance(session, str) or not session:
        raise InvalidToken("sid must be a non-empty string")
    return Caller(subject, session), int(claims["exp"])


def new_refresh_token() -> tuple[str, bytes]:
    """A new refresh token and the hash that is all the database keeps of it."""
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    return token, refresh_token_hash(token)


def refresh_token_hash(token: str) -> bytes:
    """SHA-256: a token of 256 random bits needs no slow hash to be safe at rest."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
