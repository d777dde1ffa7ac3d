"""Request ids in log lines, and the JSON log format (LOG_FORMAT=json).

RequestIdMiddleware (operations/middleware.py) stores the id of the request being served in a
context variable; `RequestIdFilter`, on the console handler, copies it onto every record, so a
line logged anywhere during a request (Django's own "Internal Server Error" included) can be
traced to the request and to its access-log line, which carries the same id.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# "-" outside any request (start-up, commands, jobs run by rqworker).
NO_REQUEST = "-"
current_request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def clear_request_id(**_signal: object) -> None:
    """Connected to request_started and request_finished: a thread that served one request
    must not lend its id to lines logged between requests."""
    current_request_id.set(NO_REQUEST)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, and the
    traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", current_request_id.get()),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
