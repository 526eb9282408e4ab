"""The market alerts' checker: a feed-leader task (registered in TradingConfig.ready()), so one feed process
checks them at a time. Every `POLL_SECONDS` it reads the waiting alerts, the feed's live quotes of their
markets (Redis, one round trip) and their close times, and fires those that are met (`trading.alerts`). It
keeps the feed subscribed to those markets while no browser watches them (`kw:watch:alerts`).
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from markets import live
from markets.models import Market
from trading import alerts

log = logging.getLogger(__name__)
POLL_SECONDS = float(getattr(settings, "KALSHIWEB_ALERTS_POLL_SECONDS", 1.0))


def run_once() -> int:
    """One pass; returns how many alerts fired."""
    waiting = alerts.waiting_market_alerts()
    if not waiting:
        return 0
    tickers = sorted({a.ticker for a in waiting})
    quotes = dict(zip(tickers, live.get_json_many([live.quote_key(t) for t in tickers]), strict=True))
    closes = dict(Market.objects.filter(ticker__in=tickers).values_list("ticker", "close_time"))
    live.keep_watched("alerts", tickers)
    now = timezone.now()
    fired = 0
    for alert in waiting:
        try:
            note = alerts.met(alert, quotes.get(alert.ticker), closes.get(alert.ticker), now)
            if note and alerts.fire(alert, note):
                fired += 1
        except Exception:
            log.exception("alert %s: check failed", alert.pk)
    return fired


def _pass() -> None:
    close_old_connections()  # a worker thread of the feed: never reuse a dropped connection
    run_once()


class AlertRunner:
    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds

    async def run(self) -> None:
        log.info("alerts: running (every %.2f s)", self.poll_seconds)
        while True:
            try:
                await asyncio.to_thread(_pass)
            except Exception:  # a bad pass never ends the feed's task
                log.exception("alerts: pass failed")
            await asyncio.sleep(self.poll_seconds)
