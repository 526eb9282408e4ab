"""What the feed knows about each watched market, built from the upstream stream (no I/O here)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi.book import OrderBook
from kalshiweb.kalshi.errors import ProtocolError
from markets.publish import book_context, quote_from_book
from markets.tape import trade_row

TRADES_KEPT = 30


@dataclass
class MarketLive:
    ticker: str
    book: OrderBook
    last_price: Decimal | None = None
    volume: Decimal | None = None
    open_interest: Decimal | None = None
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=TRADES_KEPT))
    updated: float = 0.0

    def quote(self) -> dict[str, Any]:
        yes, no = self.book.levels()
        quote = quote_from_book(list(yes), list(no)) if not self.book.stale else {}
        quote.update(
            {
                "last_price": None if self.last_price is None else str(self.last_price),
                "volume": None if self.volume is None else str(self.volume),
                "open_interest": None if self.open_interest is None else str(self.open_interest),
                "ts": self.updated,
                "stale": self.book.stale,
            }
        )
        return quote

    def book_view(self, depth: int = 10) -> dict[str, Any] | None:
        yes, no = self.book.levels()
        if self.book.stale and not yes and not no:
            return None
        view = book_context(list(yes), list(no), depth=depth, stale=self.book.stale)
        view["ts"] = self.updated
        return view


class FeedState:
    """Books, quotes and trade tapes for the markets being watched, and which ones changed."""

    def __init__(self) -> None:
        self.markets: dict[str, MarketLive] = {}
        self.dirty: set[str] = set()
        self.protocol_errors = 0

    def watch(self, ticker: str) -> MarketLive:
        live = self.markets.get(ticker)
        if live is None:
            live = self.markets[ticker] = MarketLive(ticker, OrderBook(ticker))
        return live

    def forget(self, ticker: str) -> None:
        self.markets.pop(ticker, None)
        self.dirty.discard(ticker)

    def mark_stale(self, tickers: list[str] | None, reason: str) -> None:
        for ticker in tickers if tickers is not None else list(self.markets):
            live = self.markets.get(ticker)
            if live is not None and not live.book.stale:
                live.book.mark_stale(reason)
                self._touch(live)

    def apply(self, message: object) -> None:
        """Apply one parsed upstream message; unknown or unwatched ones are ignored."""
        ticker = getattr(message, "market_ticker", None)
        if ticker is None or ticker not in self.markets:
            return
        live = self.markets[ticker]
        if isinstance(message, m.OrderbookSnapshot):
            live.book.apply_snapshot(message.yes, message.no, seq=message.seq)
        elif isinstance(message, m.OrderbookDelta):
            try:
                live.book.apply_delta(message.side, message.price, message.delta, seq=message.seq)
            except ProtocolError:
                # A delta on a stale book or one that drives a level negative: the book stays stale until
                # the stream delivers a fresh snapshot.
                self.protocol_errors += 1
                live.book.mark_stale("waiting for a fresh snapshot")
        elif isinstance(message, m.Ticker):
            if message.price is not None:
                live.last_price = message.price
            live.volume = message.volume
            live.open_interest = message.open_interest
        elif isinstance(message, m.Trade):
            live.last_price = message.yes_price
            live.trades.appendleft(
                trade_row(
                    message.yes_price, message.count, message.taker_outcome_side, message.ts, message.trade_id
                )
            )
        else:
            return
        self._touch(live)

    def _touch(self, live: MarketLive) -> None:
        live.updated = time.time()
        self.dirty.add(live.ticker)

    def take_dirty(self) -> list[str]:
        dirty, self.dirty = self.dirty, set()
        return [t for t in dirty if t in self.markets]
