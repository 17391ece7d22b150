"""Requests that parse as HTTP but are odd in every other way, sent over a real socket (httpx
would refuse to send most of them): huge and repeated query parameters, bytes that are not
UTF-8 in the path and query, control characters in header values, duplicated Authorization or
Content-Type, Content-Length that disagrees with the body. Each is a clear 4xx, never a 5xx,
and a problem body with its X-Request-ID, the 400 for a request the HTTP parser cannot read
included."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable

import pytest

from tests.conftest import TEST_SECRET
from todo_api.testing import Server

HOST = b"Host: x\r\n"
JSON = b"Content-Type: application/json\r\n"
CASES: dict[str, bytes] = {
    "huge query": b"GET /api/u/tasks?" + b"a=1&" * 20_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
    "repeated params": b"GET /api/u/tasks?limit=1&limit=2&limit=x&sort=a&sort=b HTTP/1.1\r\n"
    + HOST
    + b"\r\n",
    "thousands of params": b"GET /api/u/tasks?"
    + b"&".join(b"p%d=1" % n for n in range(2000))
    + b" HTTP/1.1\r\n"
    + HOST
    + b"\r\n",
    "raw non-UTF-8 path": b"GET /api/\xff\xfe/tasks HTTP/1.1\r\n" + HOST + b"\r\n",
    "raw non-UTF-8 query": b"GET /api/u/tasks?q=\xff\xfe HTTP/1.1\r\n" + HOST + b"\r\n",
    "escaped non-UTF-8 path": b"GET /api/%ff%fe/tasks/%c0 HTTP/1.1\r\n" + HOST + b"\r\n",
    "escaped non-UTF-8 query": b"GET /api/u/tasks?q=%ff%fe&%c0=1 HTTP/1.1\r\n" + HOST + b"\r\n",
    "control character in a header": b"GET /api/u/tasks HTTP/1.1\r\n"
    + HOST
    + b"Authorization: Bearer a\x01b\r\n\r\n",
    "DEL in a header": b"GET /health HTTP/1.1\r\n" + HOST + b"X-Request-ID: a\x7fb\r\n\r\n",
    "non-ASCII header values": b"GET /api/u/tasks HTTP/1.1\r\n"
    + HOST
    + b"Authorization: Bearer \xff\xfe\r\nX-Request-ID: \xe9\r\nOrigin: http://\xff\r\n\r\n",
    "two Authorization headers": b"GET /api/u/tasks HTTP/1.1\r\n"
    + HOST
    + b"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
    "two Content-Type headers": b"POST /api/auth/login HTTP/1.1\r\n"
    + HOST
    + JSON
    + b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
    "Content-Length under the body": b"POST /api/auth/login HTTP/1.1\r\n"
    + HOST
    + JSON
    + b"Content-Length: 1\r\n\r\n{}",
    "two Content-Lengths": b"POST /api/auth/login HTTP/1.1\r\n"
    + HOST
    + JSON
    + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "negative Content-Length": b"POST /api/auth/login HTTP/1.1\r\n"
    + HOST
    + JSON
    + b"Content-Length: -1\r\n\r\n{}",
    "Content-Length and chunked": b"POST /api/auth/login HTTP/1.1\r\n"
    + HOST
    + JSON
    + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "non-ASCII content type": b"POST /api/auth/login HTTP/1.1\r\n"
    + HOST
    + b"Content-Type: application/json; charset=\xff\r\nContent-Length: 2\r\n\r\n{}",
    "huge integer parameter": b"GET /api/u/tasks?limit="
    + b"9" * 5000
    + b" HTTP/1.1\r\n"
    + HOST
    + b"\r\n",
    "absolute URI": b"GET http://evil.example/api/u/tasks HTTP/1.1\r\n" + HOST + b"\r\n",
    "unknown method": b"BREW /api/u/tasks HTTP/1.1\r\n" + HOST + b"\r\n",
}


def answer_to(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(10)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(raw)
        data = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while b"\r\n\r\n" not in data and (chunk := s.recv(65536)):
                data += chunk
    return data


@pytest.mark.parametrize("case", list(CASES))
def test_an_odd_request_is_a_clear_client_error(
    serve: Callable[..., Server], database_url: str, case: str
) -> None:
    server = serve({"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET})
    answer = answer_to(server.port, CASES[case])
    status = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    assert status, answer[:200]
    code = int(status.group(1))
    assert 400 <= code < 500, answer[:300]
    head = answer.split(b"\r\n\r\n")[0].lower()
    assert b"content-type: application/problem+json" in head, head  # the parser's 400 too
    assert b"x-request-id: " in head, head
    assert "Traceback" not in server.output and " 500 " not in server.output
