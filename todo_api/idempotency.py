"""Idempotency-Key on POST create and PATCH complete: a retried request gets the first
response again instead of writing twice.

The write, and the record of its response, happen in one transaction that also holds the
key's lock: so a crash can never leave a write without its record (or the reverse), a second
request with the key while the first runs gets 409 at once, and a failed first request (a 4xx
or a lost database) leaves the key free, since nothing of it was committed. A replay is an
ordinary request first: the caller rule is applied (an ended session 401, an inactive account
403) before a kept response is given back."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from todo_api.caller import Caller
from todo_api.db import idempotency
from todo_api.db.pool import Database, Runner
from todo_api.problems import Problem
from todo_api.routes.refusals import refuse_user

HEADER: Final = "idempotency-key"
_KEY: Final = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII
KEPT_HEADERS: Final = ("location", "etag")


def _fingerprint(request: Request, body: bytes) -> bytes:
    """The request as a key is bound to: method, path, and the body compared as a JSON value
    (key order and white space do not matter); a body that is not JSON, byte for byte."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


def _replay(stored: idempotency.StoredResponse) -> Response:
    headers = {**stored.headers, "Idempotent-Replayed": "true"}
    return Response(
        stored.body, stored.status, headers, media_type="application/json; charset=utf-8"
    )


async def idempotent(
    request: Request,
    db: Database,
    caller: Caller,
    write: Callable[[Runner], Awaitable[Response]],
) -> Response:
    """`write` run once per key: without the header as usual; with it, in the key's
    transaction, its success kept and replayed to retries of the same request."""
    key = request.headers.get(HEADER)
    if key is None:
        return await write(db)
    if not _KEY.fullmatch(key):
        raise Problem(400, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    fingerprint = _fingerprint(request, await request.body())
    async with db.transaction() as tx:
        claim = await idempotency.claim(tx, caller, key)
        if not claim.taken:
            detail = "A request with this Idempotency-Key is still running; retry shortly"
            raise Problem(409, detail, headers={"Retry-After": "1"})
        if claim.stored is not None:
            if claim.caller is not None:
                refuse_user(claim.caller)  # a replay is an ordinary request first: 401, 403
            if claim.stored.request != fingerprint:
                error = {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "Already used for another request",
                    "type": "idempotency_key_reused",
                }
                detail = "This Idempotency-Key was used for a different method, path or body"
                raise Problem(422, detail, errors=[error])
            return _replay(claim.stored)
        response = await write(tx)
        if 200 <= response.status_code < 300:
            kept = {k: v for k, v in response.headers.items() if k in KEPT_HEADERS}
            stored = idempotency.StoredResponse(
                fingerprint, response.status_code, kept, bytes(response.body)
            )
            await idempotency.store(tx, caller.user_id, key, stored)
    return response
