"""Errors to Sentry when ``SENTRY_DSN`` is set (web, Celery and the feed alike: each reads settings at start).

Nothing secret leaves: no request bodies, cookies or headers that carry credentials, no local variables, and
any text that looks like a private key or names a secret field is replaced before the event is sent
(``scrub``), wherever in the event it sits (a message, an exception value, a breadcrumb, extra data).
"""

from __future__ import annotations

import re
from typing import Any

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S)
_SECRET_NAMES = re.compile(
    r"(private[_-]?key|password|passwd|secret|token|csrf|session|cookie|authorization|signature|fernet|api[_-]?key)",
    re.I,
)
FILTERED = "[Filtered]"


def _clean(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return FILTERED
    if isinstance(value, str):
        return _PEM.sub("[private key removed]", value)
    if isinstance(value, dict):
        return {
            k: (FILTERED if isinstance(k, str) and _SECRET_NAMES.search(k) else _clean(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    return value


def scrub(event: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
    """before_send / before_send_transaction: drop what may hold secrets, mask the rest."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: (FILTERED if _SECRET_NAMES.search(k) or k.lower().startswith("x-csrf") else v)
                for k, v in headers.items()
            }
    cleaned: dict[str, Any] = _clean(event)
    return cleaned


def init_sentry(dsn: str, *, environment: str, release: str | None = None, transport: Any = None) -> bool:
    """Start the Sentry SDK with the Django, Celery and Redis integrations; False (and nothing) without a DSN."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.redis import RedisIntegration

    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": environment,
        "release": release,
        "integrations": [DjangoIntegration(), CeleryIntegration(), RedisIntegration()],
        "send_default_pii": False,
        "max_request_body_size": "never",
        "include_local_variables": False,
        "before_send": scrub,
        "before_send_transaction": scrub,
        "traces_sample_rate": 0.0,
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    return True
