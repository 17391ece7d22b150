"""Logging: plain lines for people, or one JSON object a line (LOG_FORMAT=json) for collectors."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else came in through `extra=` and is worth keeping.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


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


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    """Write out what is queued before the process ends."""
    if _listener is not None:
        _listener.stop()


def configure_logging(log_format: str, level: str) -> None:
    """Records are queued by the request path and formatted and written by a thread, so a
    request does not wait for its log line to reach stderr."""
    global _listener
    output = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        output.setFormatter(JSONFormatter())
    else:
        output.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if _listener is None:
        atexit.register(_stop_listener)
    else:
        _listener.stop()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, output, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The app writes its own access log, with the request id.
    logging.getLogger("uvicorn.access").disabled = True
