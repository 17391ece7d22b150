"""The URLs the service builds: paths from ids, each segment percent-encoded as it needs, and
absolute URLs (Link), which start with PUBLIC_URL when it is set, and otherwise with the
request's own scheme and host (which middleware/hosts.py has checked against ALLOWED_HOSTS),
never with a host the client chose past those rules."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from starlette.requests import Request

from todo_api.services import services

# What a path segment may hold as it is (RFC 3986 pchar, besides letters, digits and -._~).
_SEGMENT_SAFE: Final = "!$&'()*+,;=:@"


def path(*segments: str | int) -> str:
    """`/a/b/c` from its segments, each percent-encoded: an id with a space, a `/` or any
    other character a path gives a meaning (or none) stays one segment."""
    return "".join("/" + quote(str(segment), safe=_SEGMENT_SAFE) for segment in segments)


def absolute(request: Request, target: str, query: str = "") -> str:
    """The absolute URL of `target` (a path as `path` makes them) with `query` (encoded)."""
    base = services(request).settings.public_url
    if base is None:
        url = request.url
        base = f"{url.scheme}://{url.netloc}"
    return f"{base}{target}?{query}" if query else f"{base}{target}"


def this_request(request: Request, **params: str) -> str:
    """The absolute URL of the request itself with query parameters set (a next page)."""
    query = request.url.include_query_params(**params).query
    decoded = request.scope.get("root_path", "") + request.scope["path"]
    return absolute(request, quote(decoded, safe="/" + _SEGMENT_SAFE), query)
