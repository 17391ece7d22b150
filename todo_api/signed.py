"""Values a client carries but cannot forge (list cursors, sync tokens): JSON, signed with a
key derived from JWT_SECRET for one purpose, in URL-safe base64 without padding."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

_SIGNATURE_BYTES = 16


class BadSignature(Exception):
    """Not a value this service signed for this purpose."""


class Signer:
    def __init__(self, secret: str, purpose: str) -> None:
        material = b"todo-api " + purpose.encode() + b"\x00" + secret.encode()
        self._key = hashlib.sha256(material).digest()

    def _sign(self, payload: bytes) -> bytes:
        # hmac.digest: the one-shot C implementation, several times cheaper than hmac.new.
        return hmac.digest(self._key, payload, "sha256")[:_SIGNATURE_BYTES]

    def dump(self, value: Any) -> str:
        payload = orjson.dumps(value)
        return base64.urlsafe_b64encode(self._sign(payload) + payload).rstrip(b"=").decode()

    def load(self, token: str) -> Any:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raise BadSignature from None
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise BadSignature
        return orjson.loads(payload)
