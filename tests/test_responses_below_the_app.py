"""Every response built below the application carries X-Request-ID, and a problem body its
request_id (docs/api.md, "Hardening"): 431 for a head too large, 408
for a head or a body too slow, 413 for a body too large, 400 for a request the HTTP parser
rejects. Real sockets against `todo-api serve`."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_SECRET
from tests.test_slow_clients import read_all
from todo_api.testing import TODO_API, Server

HOST = b"Host: x\r\n"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[Server]:
    # One server for the module (each test only talks to it); stopped at the end.
    started = Server(
        TODO_API,
        {
            "DATABASE_URL": database_url,
            "JWT_SECRET": TEST_SECRET,
            "HEADER_TIMEOUT_SECONDS": "1",
            "BODY_TIMEOUT_SECONDS": "1",
            "LOG_LEVEL": "warning",
        },
    )
    try:
        started.wait_until_up()
        yield started
    finally:
        started.kill()


def exchange(port: int, raw: bytes) -> bytes:
    """Send `raw`, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(raw)
        return read_all(s, timeout=15)


def check(answer: bytes, status: int, offered: str | None = None) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:300]
    headers = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    )
    request_id = headers.get(b"x-request-id", b"").decode()
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", request_id), head
    if offered is not None:
        assert request_id == offered
    assert headers[b"content-type"] == b"application/problem+json", head
    problem = json.loads(body)
    assert problem["status"] == status and problem["request_id"] == request_id


CASES: dict[str, tuple[int, bytes]] = {
    "head too large (one read)": (
        431,
        b"GET /health HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    ),
    "head too large (many reads)": (
        431,
        b"GET /health HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 300_000 + b"\r\n\r\n",
    ),
    "head too slow": (408, b"GET /health HTTP/1.1\r\n" + HOST),
    "nothing sent": (408, b""),
    "body too large": (
        413,
        b"POST /api/auth/login HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{}",
    ),
    "body too slow": (
        408,
        b"POST /api/auth/login HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",
    ),
    "garbage": (400, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP at all\r\n\r\n"),
    "bad header name": (400, b"GET /health HTTP/1.1\r\n" + HOST + b"Bad Name: x\r\n\r\n"),
    "bad chunk": (
        400,
        b"POST /api/auth/login HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_response_below_the_app_carries_a_request_id(server: Server, case: str) -> None:
    status, raw = CASES[case]
    check(exchange(server.port, raw), status)


def test_the_clients_request_id_is_kept_when_its_head_got_that_far(server: Server) -> None:
    offered = "client-chosen.id_1"
    slow = b"GET /health HTTP/1.1\r\nX-Request-ID: " + offered.encode() + b"\r\n" + HOST
    check(exchange(server.port, slow), 408, offered)
    bad = b"GET /health HTTP/1.1\r\nX-Request-ID: " + offered.encode() + b"\r\n" + HOST
    check(exchange(server.port, bad + b"Bad Name: x\r\n\r\n"), 400, offered)


def test_the_server_still_answers_after_them(server: Server) -> None:
    started = time.monotonic()
    answer = exchange(
        server.port, b"GET /health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert time.monotonic() - started < 15
    assert "Traceback" not in server.output, server.output
