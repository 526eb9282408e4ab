"""Series fee changes, live (issue #15 item 4): the feed leader puts Kalshi's scheduled series fee changes into
effect at their time.

Kalshi announces an event's fee override on the socket (`event_fee_update`, handled in markets.lifecycle_feed)
but a series' new schedule only in `/series/fee_changes`, ahead of its `scheduled_ts`. The leader reads the
upcoming changes every KALSHIWEB_FEE_POLL_SECONDS (one call through the deployment key's token bucket) and wakes
at each change's time: the series row takes the new fee type and multiplier, and every page of its markets is
told to re-ask its ticket preview (the same signal as an event override). A change whose time passed while
no feed led is in the series' own fields at the next market sync, as before.

The watcher asks for the history too (`show_historical`): by default Kalshi lists only the changes not yet in
force, so a change the exchange put in force a moment before our clock reached its time (its clock a little
ahead of ours, or a poll at that very moment) would leave the list before it was applied here. Changes whose
time is older than RECENT_SECONDS are the market sync's, not the watcher's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from kalshiweb.kalshi.types.discovery import SeriesFeeChange
from markets.discovery import deployment_client
from markets.lifecycle_feed import publish_fee_changed
from markets.live import client as redis_client
from markets.models import Market, Series

log = logging.getLogger(__name__)
RECENT_SECONDS = 120.0  # plus two polls: how far back a change in force still counts as the watcher's


@dataclass(frozen=True)
class Pending:
    id: str
    series_ticker: str
    fee_type: str
    fee_multiplier: Decimal
    at: datetime


def pending_of(changes: list[SeriesFeeChange]) -> list[Pending]:
    """The changes as the watcher keeps them, soonest first (a change with no fee type is not one)."""
    out = [
        Pending(c.id, c.series_ticker, c.fee_type, Decimal(c.fee_multiplier), c.scheduled)
        for c in changes
        if c.fee_type and c.scheduled is not None
    ]
    return sorted(out, key=lambda p: (p.at, p.id))


def apply_change(change: Pending) -> list[str]:
    """Put one series change into effect; the tickers of the series' markets (none if we do not list it or
    it already is in effect)."""
    updated = (
        Series.objects.filter(ticker=change.series_ticker)
        .exclude(fee_type=change.fee_type, fee_multiplier=change.fee_multiplier)
        .update(fee_type=change.fee_type, fee_multiplier=change.fee_multiplier)
    )
    if not updated:
        return []
    log.info(
        "series %s: fee schedule now %s ×%s", change.series_ticker, change.fee_type, change.fee_multiplier
    )
    return list(Market.objects.filter(series_id=change.series_ticker).values_list("ticker", flat=True))


class SeriesFeeWatcher:
    """The leader task. `poll_seconds` defaults to KALSHIWEB_FEE_POLL_SECONDS."""

    def __init__(self, poll_seconds: float | None = None) -> None:
        self.poll_seconds = float(poll_seconds or settings.KALSHIWEB_FEE_POLL_SECONDS)
        self.pending: list[Pending] = []
        self.applied: set[str] = set()

    async def fetch(self) -> list[Pending]:
        """The changes to come and those that came into force recently (in the exchange's history now)."""
        async with deployment_client(timeout=10.0) as client:
            changes = pending_of(await client.get_series_fee_changes(show_historical=True))
        since = datetime.now(UTC) - timedelta(seconds=RECENT_SECONDS + 2 * self.poll_seconds)
        return [p for p in changes if p.at >= since and p.id not in self.applied]

    def apply_due(self, now: datetime) -> list[str]:
        """Apply every pending change whose time has come, oldest first; the tickers whose pages were told."""
        due = [p for p in self.pending if p.at <= now]
        self.pending = [p for p in self.pending if p.at > now]
        told: list[str] = []
        for change in due:
            if change.id in self.applied:
                continue
            self.applied.add(change.id)
            tickers = apply_change(change)
            if tickers:
                publish_fee_changed(redis_client(), tickers)
                told.extend(tickers)
        return told

    def next_wake(self, now: datetime, last_poll: float, loop_now: float) -> float:
        """Seconds to sleep: until the next poll or the next pending change, whichever comes first."""
        until_poll = max(0.0, last_poll + self.poll_seconds - loop_now)
        if self.pending:
            return min(until_poll, max(0.0, (self.pending[0].at - now).total_seconds()))
        return until_poll

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last_poll = float("-inf")
        while True:
            if loop.time() - last_poll >= self.poll_seconds:
                last_poll = loop.time()
                try:
                    self.pending = await self.fetch()  # apply_due skips those already applied
                except Exception as exc:  # the exchange may be away: keep what we knew, ask at the next poll
                    log.warning("series fee changes not read: %s", exc)
            try:
                await asyncio.to_thread(self.apply_due, datetime.now(UTC))
            except Exception:
                log.exception("series fee changes not applied")
            await asyncio.sleep(max(0.05, self.next_wake(datetime.now(UTC), last_poll, loop.time())))
