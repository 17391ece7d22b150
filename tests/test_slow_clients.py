"""Slow and hostile clients, over real sockets against `todo-api serve`: connections that send
nothing, heads and bodies that trickle in a byte at a time, heads too large, more connections
than the limit, a client that stops reading a large response. None of them stalls other
clients; each is let go with a 4xx problem (or the connection closed) in bounded time."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import TEST_SECRET
from todo_api.logs import access_log
from todo_api.middleware.request_context import RequestContextMiddleware
from todo_api.problems import ProblemResponse
from todo_api.testing import Server

LIMITS = {
    "HEADER_TIMEOUT_SECONDS": "2",
    "BODY_TIMEOUT_SECONDS": "2",
    "SEND_TIMEOUT_SECONDS": "2",
    "LIMIT_CONCURRENCY": "40",
    "LOG_LEVEL": "warning",
}


@pytest.fixture
def server(serve: Callable[..., Server], database_url: str) -> Server:
    return serve({"DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, **LIMITS})


@contextlib.contextmanager
def connections(server: Server, count: int) -> Iterator[list[socket.socket]]:
    opened = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
    try:
        yield opened
    finally:
        for s in opened:
            s.close()


def read_all(s: socket.socket, timeout: float) -> bytes:
    """Everything until the server closes the connection; AssertionError if it does not
    within `timeout` seconds."""
    s.settimeout(timeout)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open: {data[:200]!r}") from None
    return data


def health_is_quick(server: Server) -> None:
    started = time.monotonic()
    r = httpx.get(f"{server.base}/health", timeout=5)
    assert r.status_code == 200 and time.monotonic() - started < 2


def test_connections_that_send_nothing_are_closed_and_stall_nobody(server: Server) -> None:
    with connections(server, 30) as idle:
        health_is_quick(server)
        started = time.monotonic()
        answer = read_all(idle[0], timeout=15)
        assert time.monotonic() - started < 10
        assert answer.startswith(b"HTTP/1.1 408") and b"application/problem+json" in answer


def test_a_head_sent_a_byte_at_a_time_is_cut_off(server: Server) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with connections(server, 1) as (s,):
        started = time.monotonic()
        closed = False
        for byte in request:
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.05)
            if time.monotonic() - started > 4:
                break
        health_is_quick(server)
        answer = read_all(s, timeout=10)
        assert closed or answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert time.monotonic() - started < 12


def test_a_body_sent_a_byte_at_a_time_is_a_408(server: Server) -> None:
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    with connections(server, 1) as (s,):
        s.sendall(head)
        started = time.monotonic()
        stop = threading.Event()

        def trickle() -> None:
            for byte in b'{"email": "a@example.com", "password": "' + b"x" * 58:
                if stop.is_set():
                    return
                with contextlib.suppress(OSError):
                    s.sendall(bytes([byte]))
                time.sleep(0.2)

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        health_is_quick(server)
        answer = read_all(s, timeout=6)
        stop.set()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"application/problem+json" in answer
        assert time.monotonic() - started < 8


@pytest.mark.parametrize("method", [b"GET", b"POST"])
@pytest.mark.parametrize("size", [17_000, 40_000, 200_000])
def test_a_head_over_the_size_limit_is_a_431(server: Server, method: bytes, size: int) -> None:
    body = b'{"title": "x"}' if method == b"POST" else b""
    with connections(server, 1) as (s,):
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            s.sendall(
                method
                + b" /health HTTP/1.1\r\nHost: x\r\nX-Big: "
                + b"a" * size
                + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
                + body
            )
        answer = read_all(s, timeout=10)
    assert answer.startswith(b"HTTP/1.1 431") and b"application/problem+json" in answer
    health_is_quick(server)
    assert "Traceback" not in server.output


def test_more_connections_than_the_limit_get_a_503_problem_and_service_comes_back(
    server: Server,
) -> None:
    with connections(server, 45):
        r = httpx.get(f"{server.base}/health", timeout=5)
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "1" and r.json()["request_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(f"{server.base}/health", timeout=5).status_code == 200:
            break
        time.sleep(0.2)
    health_is_quick(server)


def test_a_client_that_stops_reading_a_large_response_is_let_go(server: Server) -> None:
    """What the kernel's socket buffers take is out of the server's memory; the rest waits at
    most SEND_TIMEOUT_SECONDS (the middleware's guard, tested directly in test_errors.py), and
    the connection is closed either way, however slowly the client reads."""
    name = "reader"
    body = {"email": f"{name}@example.com", "username": name, "password": "password1"}
    login = httpx.post(f"{server.base}/api/auth/register", json=body).json()
    token, user_id = login["access_token"], login["user"]["id"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base, headers=headers) as client:
        for n in range(300):
            task = {"title": f"task {n}", "description": "d" * 1000}
            assert client.post(f"/api/{user_id}/tasks", json=task).status_code == 201
    request = (
        f"GET /api/{user_id}/tasks?limit=300 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    with connections(server, 5) as stalled:
        for s in stalled:
            s.sendall(request)
        time.sleep(8)  # past SEND_TIMEOUT_SECONDS and the keep-alive timeout, unread
        health_is_quick(server)
        for s in stalled:
            assert read_all(s, timeout=5).startswith(b"HTTP/1.1 200")  # then closed
    assert "Traceback" not in server.output


@pytest.mark.anyio
async def test_a_response_the_client_does_not_take_is_dropped_after_the_send_timeout() -> None:
    """The guard itself, in process: a `send` that never returns (a full socket) is given up
    after send_timeout seconds, logged as 499, never as a server error."""
    app = RequestContextMiddleware(ProblemResponse(404, "nothing here"), send_timeout=0.2)
    lines: list[dict[str, object]] = []
    write = access_log.write
    access_log.write = lines.append  # type: ignore[method-assign]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def never_drains(message: object) -> None:
        await asyncio.sleep(3600)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""}
    try:
        started = time.monotonic()
        await app(scope, receive, never_drains)
        assert time.monotonic() - started < 2
    finally:
        access_log.write = write  # type: ignore[method-assign]
    assert lines and lines[-1]["status"] == 499
