"""Logging: plain lines for people, or one JSON object a line (LOG_FORMAT=json) for collectors.

The access log, one line a request, does not go through the logging module: its per-record
cost (records, handler locks, a write and flush each) was the largest single cost of a request
in the benchmark. Its lines are formatted directly and written in batches, at most 0.1 s late."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import select
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else came in through `extra=` and is worth keeping.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
ACCESS_LOGGER = "todo_api.access"
FLUSH_SECONDS = 0.1
FLUSH_LINES = 256


_second: tuple[int, str] = (-1, "")


def _utc_now() -> str:
    """RFC 3339 UTC with microseconds; the date and time part is formatted once a second."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1_000_000):06d}Z"


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def write_all(fd: int, data: bytes) -> None:
    """Every byte of `data` to `fd`: os.write may take only part of a buffer (a pipe with
    little room, a signal), and says how much it took."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except BlockingIOError:  # a non-blocking pipe that is full: wait for room
            select.select([], [fd], [])
            continue
        view = view[written:]


def _to_stderr(data: bytes) -> None:
    write_all(sys.stderr.fileno(), data)


class AccessLog:
    """One line a request: method, path, route template, status, duration, request id."""

    def __init__(self, sink: Callable[[bytes], None] = _to_stderr) -> None:
        self.sink = sink
        self.enabled = True
        self.json = False
        self._lines: list[bytes] = []
        self._flush_scheduled = False

    def configure(self, log_format: str, level: str) -> None:
        self.json = log_format == "json"
        self.enabled = logging.getLevelName(level.upper()) <= logging.INFO

    def write(self, entry: dict[str, Any]) -> None:
        if not self.enabled:
            return
        message = f"{entry['method']} {entry['path']} {entry['status']}"
        if self.json:
            line = orjson.dumps(
                {"time": _utc_now(), "level": "info", "logger": ACCESS_LOGGER, "message": message}
                | entry
            )
        else:
            line = (
                f"{_utc_now()} INFO {ACCESS_LOGGER}: {message} {entry['duration_ms']}ms "
                f"request_id={entry['request_id']}"
            ).encode()
        self._lines.append(line + b"\n")
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
        elif not self._flush_scheduled:
            try:
                asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
                self._flush_scheduled = True
            except RuntimeError:  # no event loop: write at once
                self.flush()

    def flush(self) -> None:
        self._flush_scheduled = False
        if self._lines:
            data = b"".join(self._lines)
            self._lines.clear()
            self.sink(data)


access_log = AccessLog()
atexit.register(access_log.flush)


def configure_logging(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The app writes its own access log, with the request id.
    logging.getLogger("uvicorn.access").disabled = True
    # The MCP SDK logs the end of every stateless /mcp request at INFO ("Terminating session"):
    # a second line per request beside the access log's. Its warnings and errors still show.
    logging.getLogger("mcp").setLevel(max(logging.WARNING, root.level))
    access_log.configure(log_format, level)
