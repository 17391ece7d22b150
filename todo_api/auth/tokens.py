"""JWT access tokens: HS256 only, with sub, iat, exp and jti required."""

from __future__ import annotations

import time
import uuid

import jwt

ALGORITHM = "HS256"
_REQUIRED = ["sub", "iat", "exp"]


class InvalidToken(Exception):
    """The token is malformed, expired, badly signed, or lacks a required claim."""


def issue_token(secret: str, user_id: str, ttl_seconds: int, now: int | None = None) -> str:
    issued = int(time.time()) if now is None else now
    claims = {"sub": user_id, "iat": issued, "exp": issued + ttl_seconds, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> str:
    """The user id a valid token names, or InvalidToken."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED, "verify_sub": True},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("sub must be a non-empty string")
    return subject
