"""The state every part of the engine shares: clock, id and random sources, market registry, event bus.

Also the ticker bookkeeping every state change ends with: take `ticker_state(m)` before, call
`Core.touch(m, before)` after, and a `TickerUpdate` goes out (and the quote history grows) only if
something a ticker shows has changed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from kalshiweb.simulator.events import EventBus, LifecycleEvent, TickerUpdate
from kalshiweb.simulator.model import ACTIVE, ExchangeError, Market, unix


def ticker_state(m: Market) -> tuple[object, ...]:
    """Everything a ticker message shows, to compare before and after a change."""
    yes, no = m.best("yes"), m.best("no")
    return (yes, no, m.last_price, m.volume, m.volume_24h, m.open_interest, m.status)


class Core:
    def __init__(self, *, seed: int, now: datetime) -> None:
        self.now = now
        self.rng = random.Random(seed)
        self._id_rng = random.Random(f"kalshiweb-sim-ids-{seed}")
        self.markets: dict[str, Market] = {}
        self.bus = EventBus()
        self.emit = self.bus.emit
        # the (fee_type, multiplier) a market trades under; the lifecycle sets it from the series
        self.fee_schedule: Callable[[Market], tuple[str, Decimal]] = lambda m: ("quadratic", Decimal(1))

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def get_market(self, ticker: str) -> Market:
        try:
            return self.markets[ticker]
        except KeyError:
            raise ExchangeError(404, "not_found", f"market {ticker!r} not found") from None

    def require_active(self, m: Market) -> None:
        if m.status != ACTIVE or self.now >= m.close_time:
            raise ExchangeError(400, "MARKET_INACTIVE", f"market {m.ticker} is not open for trading")

    def record_quote(self, m: Market) -> None:
        ts = unix(self.now)
        bid, ask = m.yes_bid, m.yes_ask
        if m.quote_history and m.quote_history[-1][1:] == (bid, ask):
            return
        if m.quote_history and m.quote_history[-1][0] == ts:
            m.quote_history[-1] = (ts, bid, ask)
        else:
            m.quote_history.append((ts, bid, ask))

    def touch(self, m: Market, before: tuple[object, ...]) -> None:
        state = ticker_state(m)
        if state != before or state != m.last_ticker_state:
            m.last_ticker_state = state
            self.record_quote(m)
            self.emit(TickerUpdate(m.ticker))

    def lifecycle(self, m: Market, event_type: str, **data: object) -> None:
        self.emit(LifecycleEvent(m.ticker, event_type, dict(data)))
