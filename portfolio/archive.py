"""Markets the account traded that the app has never listed (issue #15): an old account's fills and
settlements name markets that settled before Kalshi's historical cutoff, so no live sync ever sees them.
The portfolio refresh reads them from `/historical/markets` (at most every SYNC_EVERY seconds per account,
100 tickers a call) and stores them, so their rows link to a market page with its final state and chart."""

from __future__ import annotations

import logging
from typing import Any

from kalshiweb.kalshi.errors import KalshiError
from markets import live
from markets.models import Market
from markets.sync import upsert_markets
from portfolio.models import Settlement
from trading.models import Fill, KalshiAccount

log = logging.getLogger(__name__)

SYNC_EVERY = 300
BATCH = 100


def due(account_id: int) -> bool:
    try:
        return bool(live.client().set(f"kw:portfolio:archive:{account_id}", "1", nx=True, ex=SYNC_EVERY))
    except Exception:
        return True


def unknown_tickers(account: KalshiAccount) -> list[str]:
    traded = set(Fill.objects.filter(account=account).values_list("ticker", flat=True).distinct())
    traded |= set(Settlement.objects.filter(account=account).values_list("ticker", flat=True))
    known = set(Market.objects.filter(ticker__in=traded).values_list("ticker", flat=True))
    return sorted(traded - known)


def import_archived(account: KalshiAccount, client: Any) -> int:
    """Store the archived markets among the account's unknown tickers; returns how many were stored."""
    missing = unknown_tickers(account)
    found = []
    for start in range(0, len(missing), BATCH):
        try:
            page = client.get_historical_markets(tickers=missing[start : start + BATCH], limit=BATCH)
        except KalshiError as exc:
            log.warning("could not read archived markets for account %s: %s", account.pk, exc)
            break
        found.extend(page.items)
    return upsert_markets(found)
