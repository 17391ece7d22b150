"""Bearer tokens signed by a trusted external issuer, verified against its published JWKS.

An app such as a Next.js front end with Better Auth signs its users' tokens with a private key
and publishes the public keys as a JSON Web Key Set. The algorithm used to check a token comes
from the key (its kty and crv), never from the token's header alone, so a token cannot pick a
weaker algorithm (HS256 keyed with the public key's bytes, or `none`) than the key was made for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
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
_TIMES = ("exp", "nbf", "iat")
# An issuer's `sub` becomes an account id and a path segment: 1 to 255 characters, none of them
# a control character, white space, or one a URL gives a meaning (/ ? # %).
_SUBJECT = re.compile(r"[^\s\x00-\x1f\x7f-\x9f/?#%]{1,255}")


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
    """Verifies an external issuer's tokens. The key set is fetched in the background: at start
    (never holding start-up up: tokens of the issuer are refused until a fetch succeeds), every
    `refresh_interval` seconds (so a key removed from the set stops working in every process),
    and when a token names a key not in it (rotation), at most once every `refetch_interval`
    seconds, so tokens with made-up key ids cannot turn this service into a flood of requests
    upstream. One fetch at a time, shared by every token waiting for it; a whole download,
    headers and body, gets `fetch_timeout` seconds, and a token waits at most that long."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str | None,
        audience: str | None,
        *,
        refetch_interval: float = 60.0,
        fetch_timeout: float = 5.0,
        refresh_interval: float = 600.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refetch_interval = refetch_interval
        self.fetch_timeout = fetch_timeout
        self.refresh_interval = refresh_interval
        self._client = httpx.AsyncClient(timeout=fetch_timeout)
        self._keys: _KeySet | None = None
        self._last_refetch: float | None = None  # time.monotonic() of the last refetch
        self._fetch_task: asyncio.Task[None] | None = None  # the fetch under way, if any
        self._refresher: asyncio.Task[None] | None = None
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    async def start(self) -> None:
        """Start fetching in the background (now, then every `refresh_interval`) and return at
        once: a failure is logged, not raised, so the service starts and serves its own tokens
        whatever the issuer's server does."""
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever())

    async def fetched(self) -> None:
        """Wait for the fetch under way, if any, to end (tests: the set at start)."""
        await asyncio.sleep(0)  # let a fetch just asked for begin
        if self._fetch_task is not None:
            await asyncio.shield(self._fetch_task)

    async def aclose(self) -> None:
        for task in (self._refresher, self._fetch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
        key = self._keys.find(kid) if self._keys is not None else None
        if key is None:
            await self._refetch()
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
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
            raise InvalidToken(str(exc)) from None
        for name in _TIMES:  # PyJWT takes "9999999999" for a time; JWT says a number
            value = claims.get(name)
            if name in claims and not _is_number(value):
                raise InvalidToken(f"{name} must be a number")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
            raise InvalidToken(
                "sub must be 1 to 255 characters, with no control character, white space, "
                "/, ?, # or %"
            )
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

    async def _refresh_forever(self) -> None:
        """Fetch now, then every `refresh_interval` seconds (sooner while no set was ever
        fetched: every `refetch_interval`, the pace a token's refetch keeps too)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await self._wait_for(self._start_fetch())
            pause = self.refresh_interval
            if self._keys is None:
                pause = min(pause, self.refetch_interval)
            await asyncio.sleep(pause)

    async def _refetch(self) -> None:
        """For a token naming an unknown key: wait for the fetch under way, or start one unless
        the last such refetch was under `refetch_interval` ago. The fetch at start does not
        count: a key rotated in just after it is picked up at once. At most `fetch_timeout`
        seconds of waiting; then the token is judged with the keys there are."""
        task = self._fetch_task
        if task is None or task.done():
            now = time.monotonic()
            if self._last_refetch is not None and now - self._last_refetch < self.refetch_interval:
                return
            self._last_refetch = now
            task = self._start_fetch()
        with contextlib.suppress(TimeoutError):
            await self._wait_for(task)

    async def _wait_for(self, task: asyncio.Task[None]) -> None:
        """Wait for a shared fetch at most `fetch_timeout` seconds, never cancelling it."""
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
        # that arrives as the fetch ends (aclose would then wait forever).
        async with asyncio.timeout(self.fetch_timeout):
            await asyncio.shield(task)

    def _start_fetch(self) -> asyncio.Task[None]:
        """The fetch under way, or a new one: one at a time, whoever asks."""
        if self._fetch_task is None or self._fetch_task.done():
            self._fetch_task = asyncio.create_task(self._fetch())
        return self._fetch_task

    async def _fetch(self) -> None:
        """Replace the key set with the issuer's current one; on failure keep the old one and
        log why."""
        try:
            async with asyncio.timeout(self.fetch_timeout):
                body = await self._download()
            keys = _parse_key_set(body)
        except Exception as exc:  # network, time, HTTP, JSON or shape: all mean "no new key set"
            log.warning("cannot fetch the key set at %s: %s", self.jwks_url, _describe(exc))
            return
        finally:
            self._fetch_task = None
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


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
