"""Tokens of a trusted external issuer, checked against its key set served over real HTTP:
each algorithm, key rotation and its rate limit, an unreachable set, algorithm confusion, bad
claims, unusable keys, one shared refetch, and a cache that forgets with the keys."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from tests.keysets import (
    AUDIENCE,
    EC,
    ED,
    ED_NEW,
    ISSUER,
    RSA,
    STANDARD_SET,
    KeySetServer,
    b64,
    claims,
    hand_made,
    jwk,
    key_set,
    token,
)
from todo_api.auth.issuer import ExternalClaims, TrustedIssuer
from todo_api.auth.tokens import InvalidToken

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> Iterator[KeySetServer]:
    running = KeySetServer(STANDARD_SET)
    yield running
    running.stop()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks"


@contextlib.asynccontextmanager
async def started(url: str, **kwargs: Any) -> AsyncIterator[TrustedIssuer]:
    kwargs.setdefault("issuer", ISSUER)
    kwargs.setdefault("audience", AUDIENCE)
    issuer = TrustedIssuer(url, **kwargs)
    try:
        await issuer.start()
        await issuer.fetched()  # start() does not wait for the set: these tests do
        yield issuer
    finally:
        await issuer.aclose()


async def refused(issuer: TrustedIssuer, bad: str) -> None:
    with pytest.raises(InvalidToken):
        await issuer.verify(bad)


# The algorithms


@pytest.mark.parametrize("kid", ["ed", "rsa", "ec"])
async def test_ed25519_rs256_and_es256_tokens_verify_and_give_the_claims(
    server: KeySetServer, kid: str
) -> None:
    good = token(kid)
    async with started(server.url) as issuer:
        got = await issuer.verify(good)
    assert got == ExternalClaims(
        subject="user-123",
        email="ada@example.com",
        name="Ada",
        expires=jwt.decode(good, options={"verify_signature": False})["exp"],
    )


async def test_email_and_name_that_are_not_strings_are_none(server: KeySetServer) -> None:
    async with started(server.url) as issuer:
        got = await issuer.verify(token(email=["a@example.com"], name=None))
    assert got.email is None and got.name is None and got.subject == "user-123"


async def test_a_token_without_kid_verifies_when_the_set_has_exactly_one_key(
    server: KeySetServer,
) -> None:
    server.body = key_set(jwk("rsa"))
    async with started(server.url) as issuer:
        assert (await issuer.verify(token(None, signer="rsa"))).subject == "user-123"


async def test_a_token_without_kid_is_refused_when_the_set_has_several_keys(
    server: KeySetServer,
) -> None:
    async with started(server.url) as issuer:
        await refused(issuer, token(None))


async def test_issuer_and_audience_are_not_checked_when_not_configured(
    server: KeySetServer,
) -> None:
    async with started(server.url, issuer=None, audience=None) as issuer:
        got = await issuer.verify(token(iss="https://elsewhere", aud="someone-else"))
    assert got.subject == "user-123"


def test_looks_external_is_true_for_asymmetric_tokens_and_false_for_ours() -> None:
    issuer = TrustedIssuer("http://127.0.0.1:9/jwks", None, None)
    assert issuer.looks_external(token("ed"))
    assert issuer.looks_external(token("rsa"))
    ours = jwt.encode({"sub": "user-1"}, "x" * 40, algorithm="HS256")
    assert not issuer.looks_external(ours)
    assert not issuer.looks_external("not a token")


# Rotation and the refetch rate limit


async def test_a_new_kid_triggers_one_refetch_then_verifies(server: KeySetServer) -> None:
    async with started(server.url) as issuer:
        assert server.requests == 1
        server.body = key_set(jwk("ed"), jwk("ed-new"))
        assert (await issuer.verify(token("ed-new"))).subject == "user-123"
        assert server.requests == 2
        await issuer.verify(token("ed-new", sub="another"))
        assert server.requests == 2


async def test_a_second_unknown_kid_within_the_interval_is_refused_without_a_refetch(
    server: KeySetServer,
) -> None:
    async with started(server.url) as issuer:
        await refused(issuer, token("ed-new"))  # not published yet: one refetch, in vain
        assert server.requests == 2
        server.body = key_set(jwk("ed"), jwk("ed-new"))
        await refused(issuer, token("ed-new", sub="again"))
        await refused(issuer, hand_made({"alg": "EdDSA", "kid": "made-up"}, claims(), None))
        assert server.requests == 2
        assert (await issuer.verify(token("ed"))).subject == "user-123"  # known keys still work


async def test_after_the_interval_an_unknown_kid_refetches_again(server: KeySetServer) -> None:
    async with started(server.url, refetch_interval=0.2) as issuer:
        await refused(issuer, token("ed-new"))
        assert server.requests == 2
        server.body = key_set(jwk("ed"), jwk("ed-new"))
        await refused(issuer, token("ed-new", sub="too soon"))
        assert server.requests == 2
        await asyncio.sleep(0.25)
        assert (await issuer.verify(token("ed-new"))).subject == "user-123"
        assert server.requests == 3


async def test_concurrent_verifications_with_an_unknown_kid_share_one_fetch(
    server: KeySetServer,
) -> None:
    async with started(server.url) as issuer:
        server.body = key_set(jwk("ed"), jwk("ed-new"))
        tokens = [token("ed-new", sub=f"user-{i}") for i in range(20)]
        got = await asyncio.gather(*(issuer.verify(t) for t in tokens))
        assert [c.subject for c in got] == [f"user-{i}" for i in range(20)]
        assert server.requests == 2


async def test_concurrent_refused_tokens_with_unknown_kids_share_one_fetch(
    server: KeySetServer,
) -> None:
    async with started(server.url) as issuer:
        bad = [hand_made({"alg": "EdDSA", "kid": f"k{i}"}, claims(), None) for i in range(20)]
        results = await asyncio.gather(*(issuer.verify(t) for t in bad), return_exceptions=True)
        assert all(isinstance(r, InvalidToken) for r in results)
        assert server.requests == 2


# An unreachable or broken key set


async def test_an_unreachable_key_set_does_not_stop_start_and_tokens_are_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="todo_api"):
        async with started(closed_port_url(), refetch_interval=0.0) as issuer:
            assert any(
                r.name == "todo_api" and r.levelno == logging.WARNING for r in caplog.records
            )
            await refused(issuer, token("ed"))
            await refused(issuer, token(None))


async def test_a_key_set_server_that_stopped_refuses_tokens_needing_a_refetch(
    server: KeySetServer,
) -> None:
    async with started(server.url, refetch_interval=0.0) as issuer:
        server.stop()
        await refused(issuer, token("ed-new"))
        assert (await issuer.verify(token("ed"))).subject == "user-123"  # old keys kept


async def test_a_key_set_that_never_answers_times_out_and_tokens_are_refused() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections are accepted by the kernel; nothing ever replies
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/jwks"
        began = time.monotonic()
        async with started(url, fetch_timeout=0.2) as issuer:
            await refused(issuer, token("ed"))
        assert time.monotonic() - began < 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, STANDARD_SET),
        (404, b"not found"),
        (200, b"{not json"),
        (200, b"[1, 2]"),
        (200, b'{"keys": "none"}'),
        (200, b'{"keys": []}'),
        (200, b'"just a string"'),
    ],
)
async def test_a_broken_key_set_response_means_tokens_are_refused(
    server: KeySetServer, status: int, body: bytes
) -> None:
    server.status, server.body = status, body
    async with started(server.url) as issuer:
        await refused(issuer, token("ed"))


async def test_the_key_set_is_fetched_when_it_becomes_reachable(server: KeySetServer) -> None:
    server.status = 503
    async with started(server.url, refetch_interval=0.0) as issuer:
        await refused(issuer, token("ed"))
        server.status = 200
        assert (await issuer.verify(token("ed"))).subject == "user-123"


# Algorithm confusion


async def test_hs256_signed_with_the_rsa_public_key_pem_is_refused(server: KeySetServer) -> None:
    pem = RSA.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    async with started(server.url) as issuer:
        for kid in ("rsa", None):
            header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
            await refused(issuer, hand_made(header, claims(), pem))


async def test_hs256_signed_with_the_jwk_json_is_refused(server: KeySetServer) -> None:
    secret = json.dumps(jwk("ed")).encode()
    async with started(server.url) as issuer:
        await refused(issuer, hand_made({"alg": "HS256", "kid": "ed"}, claims(), secret))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(server: KeySetServer, alg: str) -> None:
    server.body = key_set(jwk("ed"))
    async with started(server.url) as issuer:
        await refused(issuer, hand_made({"alg": alg, "kid": "ed"}, claims(), None))
        await refused(issuer, hand_made({"alg": alg}, claims(), None))


async def test_a_header_algorithm_other_than_the_keys_is_refused(server: KeySetServer) -> None:
    async with started(server.url) as issuer:
        # RS256 claimed, kid naming the Ed25519 key, signed with the RSA key
        rs256_for_ed = jwt.encode(claims(), RSA, algorithm="RS256", headers={"kid": "ed"})
        await refused(issuer, rs256_for_ed)
        await refused(issuer, jwt.encode(claims(), EC, algorithm="ES256", headers={"kid": "rsa"}))
        await refused(issuer, jwt.encode(claims(), RSA, algorithm="PS256", headers={"kid": "rsa"}))
        await refused(issuer, jwt.encode(claims(), RSA, algorithm="RS512", headers={"kid": "rsa"}))


async def test_a_jwk_whose_alg_disagrees_with_its_type_is_skipped(server: KeySetServer) -> None:
    server.body = key_set(jwk("rsa", alg="HS256"), jwk("ec", alg="RS256"), jwk("ed", alg="EdDSA"))
    async with started(server.url) as issuer:
        await refused(issuer, token("rsa"))
        await refused(issuer, token("ec"))
        assert (await issuer.verify(token("ed"))).subject == "user-123"


async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
    server: KeySetServer,
) -> None:
    forged = jwt.encode(claims(), ED_NEW, algorithm="EdDSA", headers={"kid": "ed"})
    async with started(server.url) as issuer:
        await refused(issuer, forged)


@pytest.mark.parametrize("bad", ["", "garbage", "a.b.c", "a.b", "....", "e30.e30.e30"])
async def test_malformed_tokens_are_refused(server: KeySetServer, bad: str) -> None:
    async with started(server.url) as issuer:
        await refused(issuer, bad)


# Claims


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example.com"},
        {"iss": None},
        {"aud": "https://other.example.com"},
        {"aud": None},
        {"exp": None},
        {"exp": int(time.time()) - 1},
        {"exp": "tomorrow"},
        {"sub": None},
        {"sub": 123},
        {"sub": ""},
        {"nbf": int(time.time()) + 86_400},
        {"iat": int(time.time()) + 86_400},
        {"exp": str(int(time.time()) + 600)},
        {"nbf": str(int(time.time()) - 60)},
        {"iat": str(int(time.time()))},
        {"iat": True},
    ],
    ids=[
        "wrong iss",
        "missing iss",
        "wrong aud",
        "missing aud",
        "missing exp",
        "expired",
        "exp not a number",
        "missing sub",
        "non-string sub",
        "empty sub",
        "nbf in the future",
        "iat in the future",
        "exp a numeric string",
        "nbf a numeric string",
        "iat a numeric string",
        "iat a boolean",
    ],
)
async def test_tokens_with_bad_claims_are_refused(
    server: KeySetServer, changes: dict[str, Any]
) -> None:
    async with started(server.url) as issuer:
        await refused(issuer, token("ed", **changes))


async def test_a_token_expired_by_one_second_is_refused_without_leeway(
    server: KeySetServer,
) -> None:
    async with started(server.url) as issuer:
        await refused(issuer, token("ed", exp=int(time.time()) - 1, iat=int(time.time()) - 60))


# Unusable keys in the set


async def test_an_oct_key_in_the_set_is_skipped_and_tokens_signed_with_it_are_refused(
    server: KeySetServer,
) -> None:
    secret = b"a shared secret that is long enough for hs256!!"
    oct_key = {"kty": "oct", "kid": "hmac", "k": b64(secret), "alg": "HS256"}
    server.body = key_set(oct_key, jwk("ed"))
    hs = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "hmac"})
    async with started(server.url) as issuer:
        await refused(issuer, hs)
        assert (await issuer.verify(token("ed"))).subject == "user-123"
        assert (await issuer.verify(token(None))).subject == "user-123"  # the one usable key


async def test_a_set_with_only_an_oct_key_has_no_usable_key(server: KeySetServer) -> None:
    secret = b"a shared secret that is long enough for hs256!!"
    server.body = key_set({"kty": "oct", "k": b64(secret)})
    async with started(server.url) as issuer:
        await refused(issuer, jwt.encode(claims(), secret, algorithm="HS256"))


async def test_keys_pyjwt_cannot_load_or_other_types_are_skipped(server: KeySetServer) -> None:
    server.body = key_set(
        {"kty": "RSA", "kid": "broken", "n": "!!!", "e": "AQAB"},
        {"kty": "EC", "kid": "no-point", "crv": "P-256"},
        {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": b64(b"\0" * 32)},
        {"kty": "weird", "kid": "weird"},
        {"kid": "no-kty"},
        "not an object",
        jwk("ed", use="enc"),
        jwk("rsa"),
    )
    async with started(server.url) as issuer:
        assert (await issuer.verify(token("rsa"))).subject == "user-123"
        await refused(issuer, token("ed"))


async def test_a_short_rsa_key_is_skipped(server: KeySetServer) -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    server.body = key_set({**RSAAlgorithm.to_jwk(short.public_key(), as_dict=True), "kid": "s"})
    async with started(server.url) as issuer:
        await refused(issuer, jwt.encode(claims(), short, algorithm="RS256", headers={"kid": "s"}))


async def test_a_published_private_key_is_skipped(server: KeySetServer) -> None:
    server.body = key_set({**OKPAlgorithm.to_jwk(ED, as_dict=True), "kid": "ed"})
    async with started(server.url) as issuer:
        await refused(issuer, token("ed"))


async def test_two_keys_with_one_kid_are_both_refused(server: KeySetServer) -> None:
    server.body = key_set(jwk("ed"), {**jwk("ed-new"), "kid": "ed"})
    async with started(server.url) as issuer:
        await refused(issuer, token("ed"))


# The verified-token cache


async def test_a_verified_token_is_checked_once(
    server: KeySetServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decoded
        decoded += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    good = token("ed")
    async with started(server.url) as issuer:
        first = await issuer.verify(good)
        assert await issuer.verify(good) == first
        assert await issuer.verify(good) == first
    assert decoded == 1


async def test_a_cached_token_is_refused_once_the_key_set_drops_its_key(
    server: KeySetServer,
) -> None:
    good = token("ed")
    async with started(server.url) as issuer:
        assert (await issuer.verify(good)).subject == "user-123"
        server.body = key_set(jwk("ed-new"))  # rotation that removes the old key
        assert (await issuer.verify(token("ed-new"))).subject == "user-123"  # the refetch
        assert server.requests == 2
        await refused(issuer, good)


async def test_a_cached_token_is_refused_once_it_expires(server: KeySetServer) -> None:
    expires = int(time.time() + 1.5)  # 0.5 to 1.5 s from now
    short_lived = token("ed", exp=expires)
    async with started(server.url) as issuer:
        assert (await issuer.verify(short_lived)).expires == expires
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.01)
        await refused(issuer, short_lived)


async def test_a_refetch_of_the_same_keys_keeps_verified_tokens(server: KeySetServer) -> None:
    good = token("ed")
    async with started(server.url) as issuer:
        await issuer.verify(good)
        await refused(issuer, token("ed-new"))  # refetch: the same keys come back
        assert server.requests == 2
        assert (await issuer.verify(good)).subject == "user-123"


# The key set's deadlines and refresh (docs/api.md, "Hardening")

SLOW = 0.2  # seconds between the bytes of a slow key set: each read is quick, the whole is not


async def test_start_does_not_wait_for_a_slow_key_set(server: KeySetServer) -> None:
    server.trickle = SLOW
    issuer = TrustedIssuer(server.url, ISSUER, AUDIENCE, fetch_timeout=1.0)
    try:
        async with asyncio.timeout(1.0):  # the set would take minutes at this pace
            await issuer.start()
        assert issuer._keys is None
    finally:
        await issuer.aclose()


async def test_a_trickling_key_set_is_given_up_at_the_whole_download_deadline(
    server: KeySetServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.trickle = SLOW  # every read well within the timeout, the whole download not
    with caplog.at_level(logging.WARNING, logger="todo_api"):
        async with asyncio.timeout(10), started(server.url, fetch_timeout=1.0) as issuer:
            await refused(issuer, token("ed"))
    assert any("TimeoutError" in r.getMessage() for r in caplog.records)


async def test_tokens_waiting_for_a_fetch_wait_at_most_the_deadline(server: KeySetServer) -> None:
    async with started(server.url, fetch_timeout=1.0, refetch_interval=0.0) as issuer:
        server.trickle = SLOW
        tokens = [token("ed-new", sub=f"user-{i}") for i in range(10)]
        async with asyncio.timeout(1.0 * 5):  # at most the deadline each, all at once
            results = await asyncio.gather(
                *(issuer.verify(t) for t in tokens), return_exceptions=True
            )
        assert all(isinstance(r, InvalidToken) for r in results)
        assert server.requests == 2  # one shared fetch for all of them
        assert (await issuer.verify(token("ed"))).subject == "user-123"  # the set kept


async def test_the_set_is_fetched_again_every_refresh_interval_so_a_removed_key_stops(
    server: KeySetServer,
) -> None:
    good = token("rsa")
    async with started(server.url, refresh_interval=0.2) as issuer:
        assert (await issuer.verify(good)).subject == "user-123"
        server.body = key_set(jwk("ed"), jwk("ec"))  # rsa removed; no token names a new kid
        async with asyncio.timeout(10):
            while True:
                try:
                    await issuer.verify(good)
                except InvalidToken:
                    break
                await asyncio.sleep(0.05)
        assert server.requests >= 2
        await refused(issuer, good)
        assert (await issuer.verify(token("ed"))).subject == "user-123"


SUBJECTS_REFUSED = {
    "NUL": "user\x00123",
    "too long": "a" * 256,
    "CR LF": "user\r\nX-Injected: 1",
    "slash": "user/123",
    "question mark": "user?123",
    "hash": "user#123",
    "percent": "user%2F123",
    "space": "user 123",
    "tab": "user\t123",
    "line separator": "user\u2028123",
    "no-break space": "user\u00a0123",
    "DEL": "user\x7f",
    "C1 control": "user\x85",
}


@pytest.mark.parametrize("sub", SUBJECTS_REFUSED.values(), ids=SUBJECTS_REFUSED.keys())
async def test_a_sub_outside_the_rule_is_refused(server: KeySetServer, sub: str) -> None:
    async with started(server.url) as issuer:
        await refused(issuer, token("ed", sub=sub))


@pytest.mark.parametrize(
    "sub", ["a" * 255, "auth0|5f1c.9_~-", "ünïcødé-用户", "x", "a:b@c!$&'()*+,;="]
)
async def test_a_sub_within_the_rule_is_accepted(server: KeySetServer, sub: str) -> None:
    async with started(server.url) as issuer:
        assert (await issuer.verify(token("ed", sub=sub))).subject == sub
