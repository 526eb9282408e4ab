"""Is the exchange usable from here? The deployment key's diagnosis, kept in Redis for the top bar.

A Celery beat task (``markets.tasks.probe_exchange``, every ``KALSHIWEB_EXCHANGE_PROBE_SECONDS``) runs the
first-contact diagnosis (``kalshiweb.kalshi.diagnose``) for the deployment key and stores one summary under
``kw:exchange:status``: the first problem found (an unreachable host, a refused key, a skewed clock), its fix,
and since when it has been so. Every page's top bar shows it beside the browser-socket badge, so "Live" (the
browser's socket to us) is never mistaken for "the exchange answers", and the markets list says why it is
empty. ``manage.py kalshi_check`` runs the same checks by hand.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings

from kalshiweb.exchange import default_credentials, run_blocking
from kalshiweb.kalshi.auth import KalshiSigner
from kalshiweb.kalshi.diagnose import FAIL, WARN, Check, diagnose
from markets import live

log = logging.getLogger(__name__)

STATUS_KEY = "kw:exchange:status"
# What the top bar judges: the deployment key is for market data, so its write scope does not matter here.
TOPBAR_CHECKS = ("dns", "connect", "clock", "key")


def check_deployment(step_timeout: float = 5.0) -> list[Check]:
    """The diagnosis of the deployment's own exchange and key (KALSHI_API_BASE, KALSHI_API_KEY_ID)."""
    key_id, path = default_credentials()
    signer = KalshiSigner.from_pem_file(key_id, path) if key_id and path else None
    return run_blocking(lambda: diagnose(settings.KALSHI_API_BASE, signer=signer, step_timeout=step_timeout))


def summarize(checks: list[Check], previous: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The status to store: the first failure (else the first warning) among the top bar's checks."""
    judged = [c for c in checks if c.name in TOPBAR_CHECKS]
    worst = next((c for c in judged if c.status == FAIL), None) or next(
        (c for c in judged if c.status == WARN), None
    )
    status: dict[str, Any] = {"checked_at": now.isoformat(), "checks": [c.line() for c in checks]}
    if worst is None:
        return status | {"level": "ok", "problem": None, "fix": "", "check": None, "since": None}
    same = previous is not None and previous.get("check") == worst.name and previous.get("since")
    since = previous["since"] if same and previous else now.isoformat()
    return status | {
        "level": worst.status,
        "problem": worst.detail,
        "fix": worst.fix,
        "check": worst.name,
        "since": since,
    }


def probe(now: datetime | None = None) -> dict[str, Any]:
    """Diagnose the deployment's exchange now and store the summary (it keeps "since" while a problem lasts)."""
    now = now or datetime.now(UTC)
    checks = check_deployment()
    status = summarize(checks, current(), now)
    try:
        live.client().set(
            STATUS_KEY, json.dumps(status), ex=max(600, 10 * settings.KALSHIWEB_EXCHANGE_PROBE_SECONDS)
        )
    except redis.RedisError as exc:
        log.warning("cannot store the exchange status: %s", exc)
    if status["problem"]:
        log.warning("exchange: %s (%s)", status["problem"], status["fix"])
    return status


def current() -> dict[str, Any] | None:
    """The stored status, or None before the first probe (or with Redis down)."""
    status = live._get_json(STATUS_KEY)
    if not isinstance(status, dict):
        return None
    since = status.get("since")
    if since:
        try:
            status["since_dt"] = datetime.fromisoformat(since)
        except ValueError:
            status["since_dt"] = None
    return status
