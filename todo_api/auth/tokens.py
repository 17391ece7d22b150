"""JWT access tokens: HS256 only, with sub, iat, exp and jti required."""

from __future__ import annotations

import functools
import time
import uuid

import jwt

ALGORITHM = "HS256"
_REQUIRED = ["sub", "iat", "exp", "jti"]
VERIFIED_TOKENS = 10_000  # tokens remembered after verification (about 2 MB at most)


class InvalidToken(Exception):
    """The token is malformed, expired, badly signed, or lacks a required claim."""


def issue_token(secret: str, user_id: str, ttl_seconds: int, now: int | None = None) -> str:
    issued = int(time.time()) if now is None else now
    claims = {"sub": user_id, "iat": issued, "exp": issued + ttl_seconds, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> str:
    """The user id a valid token names, or InvalidToken. A client sends the same token with
    every request, so a verified token's subject is remembered until it expires: the
    signature and claims are checked once per token, not once per request."""
    subject, expires = _verified(secret, token)
    if time.time() >= expires:
        raise InvalidToken("Signature has expired")
    return subject


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(secret: str, token: str) -> tuple[str, int]:
    """(sub, exp) of a token whose signature and claims are valid now; failures are not cached."""
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
    return subject, int(claims["exp"])
