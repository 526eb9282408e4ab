"""Logs an operator can follow: a request id on every line, carried from the order's POST through its Celery
tasks to its fills, and JSON lines when ``KALSHIWEB_LOG_FORMAT=json``.

- ``RequestIdMiddleware`` takes the proxy's ``X-Request-ID`` (when it is a plain token) or makes one, binds it
  for the request and echoes it in the response.
- Celery: a task published while an id is bound carries it in its headers (``before_task_publish``) and the
  worker binds it again around the task (``task_prerun``/``task_postrun``).
- Every step of an order (``trading.lifecycle.audit``: created, submitting, acknowledged, fill, canceled…) is
  also a log line under the id stored on the order (``order_context``), so a retry, the sweep and the fill
  that arrives on the feed log under the id of the click that placed it.
- ``RequestIdFilter`` puts the bound id (or ``-``) on every record; ``JsonFormatter`` writes one JSON object a
  line with the record's ``extra`` fields.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

if TYPE_CHECKING:  # settings import this module: nothing of Django's request machinery at import time
    from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
CELERY_HEADER = "kw_request_id"
_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("kw_request_id", default="")

# Attributes every LogRecord has: anything else on a record came from `extra=` and goes into the JSON line.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def current() -> str:
    return _current.get()


def bind(request_id: str) -> contextvars.Token[str]:
    return _current.set(request_id)


def unbind(token: contextvars.Token[str]) -> None:
    _current.reset(token)


def new_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def order_context(order: Any) -> Iterator[None]:
    """Log under the order's request id for the block, unless an id is already bound (the POST itself)."""
    request_id = getattr(order, "request_id", "") or ""
    if not request_id or _current.get():
        yield
        return
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def _incoming(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    return given if _TOKEN.match(given) else new_id()


class RequestIdMiddleware:
    """Binds a request id for the request (the proxy's X-Request-ID when it is a plain token) and returns it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        request_id = _incoming(request)
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request_id  # type: ignore[index]
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming(request)
        token = _current.set(request_id)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        finally:
            _current.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, request_id, the record's extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _current.get() or None,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: text (the default, for a terminal) or JSON lines; both carry the request id."""
    if fmt not in ("text", "json"):
        raise ValueError(f"KALSHIWEB_LOG_FORMAT must be text or json, got {fmt!r}")
    formatters = {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "kalshiweb.logs.JsonFormatter"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "kalshiweb.logs.RequestIdFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
    }


def connect_celery(app: Any) -> None:
    """Carry the bound request id into tasks published while it is bound, and bind it in the worker."""
    from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

    @before_task_publish.connect(weak=False)
    def _publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        request_id = _current.get()
        if request_id and headers is not None:
            headers[CELERY_HEADER] = request_id

    @task_prerun.connect(weak=False)
    def _prerun(task: Any = None, **_: Any) -> None:
        request_id = getattr(getattr(task, "request", None), CELERY_HEADER, None) or ""
        _current.set(request_id if isinstance(request_id, str) and _TOKEN.match(request_id) else "")

    @task_postrun.connect(weak=False)
    def _postrun(**_: Any) -> None:
        _current.set("")

    @setup_logging.connect(weak=False)
    def _logging(**_: Any) -> None:
        """Celery keeps Django's LOGGING (one format, the request id filter) instead of its own."""
        import logging.config

        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)
