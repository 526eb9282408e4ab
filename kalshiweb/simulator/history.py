"""The live/historical partition (GET /historical/cutoff), as Kalshi draws it.

Kalshi keeps recent data on the live endpoints and moves older data to `/historical/*`: markets that
settled before `market_settled_ts` (with their candlesticks), trades and fills created before
`trades_created_ts`, orders canceled or fully executed before `orders_updated_ts`, and settled positions of
events archived before `market_positions_last_updated_ts` (a whole event moves at once). Resting orders and
unsettled positions are always live. The cutoffs only ever move forward: Kalshi advances them regularly,
targeting about three months of live data (docs, "Historical Data").

The simulator's cutoff is the start of the UTC day `live_window` before now (so it advances once a day), or
a time pinned through `/_sim/historical/cutoff` (tests move data past the cutoff with it). Nothing is copied:
each record is on exactly one side of the cutoff, decided when it is read, so a record can never be on both
sides or on neither.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kalshiweb.simulator.core import Core
from kalshiweb.simulator.model import FINALIZED, RESTING, Event, Fill, Market, Order, Position, Trade

LIVE_WINDOW = timedelta(days=90)


class History:
    def __init__(self, core: Core, live_window: timedelta = LIVE_WINDOW) -> None:
        self._core = core
        self.live_window = live_window
        self._pinned: datetime | None = None
        self._last: datetime | None = None  # the newest cutoff reported: it never moves back

    # ------------------------------------------------------------------ the cutoff

    def cutoff(self) -> datetime:
        if self._pinned is not None:
            value = self._pinned
        else:
            day = (self._core.now - self.live_window).replace(hour=0, minute=0, second=0, microsecond=0)
            value = day
        if self._last is not None and value < self._last:
            value = self._last
        self._last = value
        return value

    def pin(self, when: datetime) -> datetime:
        """Move the cutoff to `when` (never back, as on Kalshi); returns the cutoff now in force."""
        if when.tzinfo is None:
            raise ValueError("the cutoff must be timezone-aware")
        current = self.cutoff()
        self._pinned = max(when, current)
        return self.cutoff()

    # ------------------------------------------------------------------ which side a record is on

    def market_archived(self, m: Market) -> bool:
        return m.status == FINALIZED and m.settlement_ts is not None and m.settlement_ts < self.cutoff()

    def trade_archived(self, t: Trade | Fill) -> bool:
        return t.created_time < self.cutoff()

    def order_archived(self, o: Order) -> bool:
        return o.status != RESTING and o.last_update_time < self.cutoff()

    def event_archived(self, event: Event | None, markets: dict[str, Market], event_ticker: str) -> bool:
        """A settled event's positions move together: only once every market of the event is archived."""
        tickers = list(event.markets) if event is not None and event.markets else []
        if not tickers:
            tickers = [t for t, m in markets.items() if m.event_ticker == event_ticker]
        return bool(tickers) and all(t in markets and self.market_archived(markets[t]) for t in tickers)

    def position_archived(self, p: Position, events: dict[str, Event], markets: dict[str, Market]) -> bool:
        return p.settled and self.event_archived(events.get(p.event_ticker), markets, p.event_ticker)
