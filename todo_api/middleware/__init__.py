"""The ASGI layers around the routes, each in its own module."""

from __future__ import annotations

from starlette.types import Scope


def raw_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header (`name` in lower case, as ASGI gives names): a plain
    scan, cheaper than building a Headers object in every layer of every request."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
