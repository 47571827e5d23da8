"""What operators watch: request ids on log lines, JSON logs, and an observer for metrics.

All of it is off unless asked for (``request_log``, ``observer``), so that the routes
cost what they cost without it. The handler calls in here; nothing here does HTTP.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import uuid
from typing import Any, Final, Protocol

import httpx

__all__ = [
    "JsonFormatter",
    "NavaiObserver",
    "RequestIdFilter",
    "current_request_id",
    "request_id_for",
]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "navai_request_id", default=None
)
# An id a proxy or client sent is kept when it is short and plain (it reaches log lines).
_ACCEPTED_ID: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class NavaiObserver(Protocol):
    """Receives what happened, for metrics; :class:`navai_adapters.metrics.NavaiMetrics` is one.

    Methods are called on the serving thread or event loop, after the fact, and must be
    quick and must not raise.
    """

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request to a NAVAI route."""

    def tool_call(self, name: str, outcome: str, seconds: float) -> None:
        """One execute call.

        ``outcome`` is ``ok``, ``error``, ``invalid_arguments``, ``timeout`` or
        ``unknown`` (then ``name`` is ``(unknown)``: never a caller's made-up name).
        """

    def upstream(self, status: int, seconds: float) -> None:
        """One mint, retries included: ``status`` is what the route answered."""


def request_id_for(headers: httpx.Headers) -> str:
    """The request's id: the caller's ``X-Request-ID`` when it is plain, else a new one."""
    given: str | None = headers.get("x-request-id")
    if given is not None and _ACCEPTED_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


def set_request_id(request_id: str | None) -> contextvars.Token[str | None]:
    """Make ``request_id`` the current one; ``reset_request_id`` undoes it."""
    return _request_id.set(request_id)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    """Undo :func:`set_request_id`."""
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``None`` outside a request) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the id; never drops a record."""
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


# Attributes every LogRecord has: the rest were passed as `extra=` and go into the JSON.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras.

    A traceback goes in ``exc_info`` as text; fields passed with ``extra=`` (NAVAI's
    access line has ``method``, ``path``, ``route``, ``status``, ``duration_ms``) are
    keys of their own.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single JSON line."""
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or _request_id.get()
        if request_id is not None:
            data["request_id"] = request_id
        data.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _STANDARD and key != "request_id"
        )
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)
