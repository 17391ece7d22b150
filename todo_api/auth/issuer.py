"""Bearer tokens signed by a trusted external issuer, verified against its published JWKS.

An app such as a Next.js front end with Better Auth signs its users' tokens with a private key
and publishes the public keys as a JSON Web Key Set. The algorithm used to check a token comes
from the key (its kty and crv), never from the token's header alone, so a token cannot pick a
weaker algorithm (HS256 keyed with the public key's bytes, or `none`) than the key was made for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from todo_api.auth.tokens import InvalidToken

log = logging.getLogger("todo_api")

VERIFIED_TOKENS = 10_000  # verified tokens remembered, least recently used dropped first
MAX_JWKS_BYTES = 1 << 20  # a key set is a few kB; more than this is not one
MIN_RSA_BITS = 2048  # shorter RSA keys can be factored; such a key is skipped
_REQUIRED = ["exp", "sub"]


@dataclass(frozen=True)
class ExternalClaims:
    subject: str  # sub
    email: str | None  # the `email` claim if it is a string, else None
    name: str | None  # the `name` claim if it is a string, else None
    expires: int  # exp


@dataclass(frozen=True)
class _Key:
    algorithm: str
    jwk: jwt.PyJWK


class _KeySet:
    """The usable keys of one fetched JWKS. Its identity stands for "this set of keys": a
    cached verification is only good while the same object is current."""

    def __init__(self, keys: list[tuple[str | None, _Key]], fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.only: _Key | None = keys[0][1] if len(keys) == 1 else None
        self.by_kid: dict[str, _Key | None] = {}
        for kid, key in keys:
            if kid is None:
                continue
            # Two keys with one kid: which one a token means is unknowable, so neither is used.
            self.by_kid[kid] = None if kid in self.by_kid else key

    def find(self, kid: str | None) -> _Key | None:
        if kid is None:
            return self.only
        return self.by_kid.get(kid)


@dataclass(frozen=True)
class _Verified:
    keys: _KeySet
    claims: ExternalClaims


def _algorithm_for(jwk: dict[str, Any]) -> str | None:
    """The one algorithm a JWK's type allows, or None for a type not accepted here (oct/HMAC
    among them), or a key whose own `alg` or `use` says otherwise."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        algorithm = "EdDSA"
    elif kty == "EC" and crv == "P-256":
        algorithm = "ES256"
    elif kty == "RSA":
        algorithm = "RS256"
    else:
        return None
    if "alg" in jwk and jwk["alg"] != algorithm:
        return None
    if "use" in jwk and jwk["use"] != "sig":
        return None
    return algorithm


def _public_key_fits(algorithm: str, key: object) -> bool:
    """Whether PyJWT loaded a public key of the expected kind (a JWK carrying a private part
    loads as a private key, which cannot verify)."""
    if algorithm == "EdDSA":
        return isinstance(key, Ed25519PublicKey)
    if algorithm == "ES256":
        return isinstance(key, EllipticCurvePublicKey) and isinstance(key.curve, SECP256R1)
    return isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_BITS


def _load_key(jwk: object) -> tuple[str | None, _Key] | None:
    """(kid, key) of a usable JWK, or None: an unusable key is skipped, not fatal."""
    if not isinstance(jwk, dict):
        return None
    algorithm = _algorithm_for(jwk)
    kid = jwk.get("kid")
    if algorithm is None or not (kid is None or isinstance(kid, str)):
        return None
    try:
        loaded = jwt.PyJWK(jwk, algorithm=algorithm)
    except Exception:  # whatever PyJWT or cryptography make of a malformed key: skip it
        return None
    if not _public_key_fits(algorithm, loaded.key):
        return None
    return kid, _Key(algorithm, loaded)


def _parse_key_set(body: bytes) -> _KeySet:
    """The usable keys of a JWKS document; ValueError when it is not one or none are usable."""
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JSON Web Key Set")
    usable: list[tuple[str | None, _Key]] = []
    raw: list[object] = []
    for jwk in document["keys"]:
        loaded = _load_key(jwk)
        if loaded is not None:
            usable.append(loaded)
            raw.append(jwk)
    if not usable:
        raise ValueError("the key set has no usable Ed25519, P-256 or RSA key")
    return _KeySet(usable, json.dumps(raw, sort_keys=True))


def _string_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None


class TrustedIssuer:
    """Verifies an external issuer's tokens. The key set is fetched at start and again when a
    token names a key not in it (rotation), at most once every `refetch_interval` seconds, so
    tokens with made-up key ids cannot turn this service into a flood of requests upstream."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str | None,
        audience: str | None,
        *,
        refetch_interval: float = 60.0,
        fetch_timeout: float = 5.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refetch_interval = refetch_interval
        self._client = httpx.AsyncClient(timeout=fetch_timeout)
        self._keys: _KeySet | None = None
        self._last_refetch: float | None = None  # time.monotonic() of the last refetch
        self._fetches = 0  # attempts so far: tells a waiter whether someone fetched meanwhile
        self._fetch_lock = asyncio.Lock()
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    async def start(self) -> None:
        """Fetch the key set once; a failure is logged, not raised, so the service still starts
        (its own tokens keep working) and the set is fetched again when a token needs it."""
        async with self._fetch_lock:
            await self._fetch()

    async def aclose(self) -> None:
        await self._client.aclose()

    def looks_external(self, token: str) -> bool:
        """Whether the token is not one of ours (ours are HS256): routing only, nothing is
        verified. An unreadable header is left to our own verification to refuse."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return False
        return header.get("alg") != "HS256"

    async def verify(self, token: str) -> ExternalClaims:
        """The claims of a token signed by one of the issuer's keys and valid now, else
        InvalidToken. A client sends the same token with every request, so a verified token is
        remembered until it expires or the key set changes."""
        cached = self._verified.get(token)
        if cached is not None and cached.keys is self._keys:
            if time.time() < cached.claims.expires:
                self._verified.move_to_end(token)
                return cached.claims
            del self._verified[token]
            raise InvalidToken("Signature has expired")

        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        seen = self._fetches
        key = self._keys.find(kid) if self._keys is not None else None
        if key is None:
            await self._refetch(seen)
            key = self._keys.find(kid) if self._keys is not None else None
        if key is None or self._keys is None:
            raise InvalidToken("no key of the trusted issuer matches the token")
        # No await from here on: the key set the token is checked with is the one cached.
        claims = self._decode(token, key)
        self._remember(token, _Verified(self._keys, claims))
        return claims

    def _decode(self, token: str, key: _Key) -> ExternalClaims:
        try:
            claims = jwt.decode(
                token,
                key.jwk,
                algorithms=[key.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=0,
                options={"require": _REQUIRED, "verify_aud": self.audience is not None},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("sub must be a non-empty string")
        return ExternalClaims(
            subject=subject,
            email=_string_claim(claims, "email"),
            name=_string_claim(claims, "name"),
            expires=int(claims["exp"]),
        )

    def _remember(self, token: str, verified: _Verified) -> None:
        self._verified[token] = verified
        self._verified.move_to_end(token)
        while len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)

    async def _refetch(self, seen: int) -> None:
        """Fetch the set again unless another task did since `seen` (concurrent tokens with a
        new kid share one fetch) or the last refetch was under `refetch_interval` ago. The
        fetch at start does not count: a key rotated in just after it is picked up at once."""
        async with self._fetch_lock:
            if self._fetches != seen:
                return
            now = time.monotonic()
            if self._last_refetch is not None and now - self._last_refetch < self.refetch_interval:
                return
            self._last_refetch = now
            await self._fetch()

    async def _fetch(self) -> None:
        """Replace the key set with the issuer's current one; on failure keep the old one and
        log why. Called with the lock held."""
        self._fetches += 1
        try:
            keys = _parse_key_set(await self._download())
        except Exception as exc:  # network, HTTP, JSON or shape: all mean "no new key set"
            log.warning("cannot fetch the key set at %s: %s", self.jwks_url, _describe(exc))
            return
        if self._keys is not None and keys.fingerprint == self._keys.fingerprint:
            return  # the same keys: tokens verified with them stay verified
        self._keys = keys
        self._verified.clear()

    async def _download(self) -> bytes:
        async with self._client.stream("GET", self.jwks_url) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"response larger than {MAX_JWKS_BYTES} bytes")
            return bytes(body)


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
