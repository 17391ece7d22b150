"""How a response reaches the socket (todo_api/serving.py): a sized response's head and body in
one write, a streamed response's head at once, an interim 100 Continue on its own."""

from __future__ import annotations

from typing import Any

from todo_api.serving import _HeadWithBody

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n"
STREAMED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)
NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\netag: "3"\r\n\r\n'


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def wrapped() -> tuple[_HeadWithBody, Recording]:
    real = Recording()
    transport: Any = real
    return _HeadWithBody(transport), real


def test_a_sized_response_leaves_in_one_write() -> None:
    transport, real = wrapped()
    transport.write(HEAD)
    assert real.writes == []
    transport.write(b"{}")
    assert real.writes == [HEAD + b"{}"]


def test_an_empty_sized_body_still_sends_the_head() -> None:
    transport, real = wrapped()
    head = HEAD.replace(b"content-length: 2", b"content-length: 0")
    transport.write(head)
    transport.write(b"")
    assert real.writes == [head]


def test_a_streamed_response_has_its_head_written_at_once_and_its_chunks_as_they_come() -> None:
    transport, real = wrapped()
    transport.write(STREAMED)
    assert real.writes == [STREAMED]
    transport.write(b"5\r\nhello\r\n")
    assert real.writes == [STREAMED, b"5\r\nhello\r\n"]


def test_a_response_without_a_body_has_its_head_written_at_once() -> None:
    transport, real = wrapped()
    transport.write(NOT_MODIFIED)
    assert real.writes == [NOT_MODIFIED]


def test_a_100_continue_goes_at_once_and_the_final_head_waits_for_its_body() -> None:
    transport, real = wrapped()
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert real.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    transport.write(HEAD)
    transport.write(b"{}")
    assert real.writes == [b"HTTP/1.1 100 Continue\r\n\r\n", HEAD + b"{}"]


def test_only_the_first_head_is_held_and_later_body_chunks_pass_straight() -> None:
    transport, real = wrapped()
    transport.write(HEAD)
    transport.write(b"{")
    transport.write(b"}")
    assert real.writes == [HEAD + b"{", b"}"]


def test_closing_with_a_head_held_sends_nothing_and_closes() -> None:
    transport, real = wrapped()
    transport.write(HEAD)
    transport.close()
    assert real.writes == []
    assert real.closed
    assert transport.is_closing()
