"""Keys, tokens and a key-set (JWKS) server for the tests of a trusted external issuer: keys
made in the test process, a real HTTP server on loopback serving the set."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://app.example.com"
AUDIENCE = "https://app.example.com"

ED = ed25519.Ed25519PrivateKey.generate()
ED_NEW = ed25519.Ed25519PrivateKey.generate()
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())
ALGORITHM = {"ed": "EdDSA", "ed-new": "EdDSA", "rsa": "RS256", "ec": "ES256"}
PRIVATE: dict[str, Any] = {"ed": ED, "ed-new": ED_NEW, "rsa": RSA, "ec": EC}


def jwk(kid: str, **extra: Any) -> dict[str, Any]:
    """The public JWK of one of the test keys, named `kid`."""
    public = PRIVATE[kid].public_key()
    if kid.startswith("ed"):
        made = OKPAlgorithm.to_jwk(public, as_dict=True)
    elif kid == "rsa":
        made = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        made = ECAlgorithm.to_jwk(public, as_dict=True)
    return {**made, "kid": kid, **extra}


def key_set(*keys: object) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


STANDARD_SET = key_set(jwk("ed"), jwk("rsa"), jwk("ec"))


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims; a change to None removes that claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user-123",
        "email": "ada@example.com",
        "name": "Ada",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def token(
    kid: str | None = "ed",
    *,
    signer: str | None = None,
    algorithm: str | None = None,
    **changes: Any,
) -> str:
    """A token signed with the private key `signer` names (by default `kid`'s, or `ed`'s when
    there is no kid)."""
    signer = signer or kid or "ed"
    headers = {"kid": kid} if kid is not None else None
    alg = algorithm or ALGORITHM[signer]
    return jwt.encode(claims(**changes), PRIVATE[signer], algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], body: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token built without PyJWT, which refuses to make these: HS256 with a PEM as the secret,
    or no signature at all."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    signature = b""
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


class KeySetServer:
    """A real HTTP server on loopback serving one JSON body (swappable) and counting requests.
    With `trickle` set (seconds), the body goes one byte at a time, that long apart: a server
    that is slow on purpose."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status = 200
        self.requests = 0
        self.trickle: float | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                payload = outer.body
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if outer.trickle is None:
                    self.wfile.write(payload)
                    return
                pause = outer.trickle
                with contextlib.suppress(OSError):  # the client gave up: it may
                    for byte in payload:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(pause)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api/auth/jwks"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
