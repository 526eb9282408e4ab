from __future__ import annotations

import logging

from celery import shared_task

from kalshiweb.kalshi.errors import KalshiError
from markets.exchange_health import probe
from markets.sync import sync_markets as run_sync

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sync_markets() -> str:
    """Periodic (beat) re-sync of series, events and markets. A failure is logged; the next run retries."""
    try:
        return str(run_sync())
    except (KalshiError, OSError) as exc:
        log.warning("market sync failed: %s", exc)
        return f"failed: {exc}"


@shared_task(ignore_result=True)
def probe_exchange() -> str:
    """Periodic (beat): can the deployment reach its exchange with its key? The top bar shows the answer."""
    status = probe()
    return status["problem"] or "ok"
