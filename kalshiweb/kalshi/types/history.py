"""Kalshi's historical-data, queue-position and cash-history responses (issue #15: history).

Kept apart from ``rest.py`` (already at its size limit); the same conventions: attribute names drop the wire
suffixes, ``from_dict`` checks required fields and raises ``ProtocolError`` naming the object and the field.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec

from .rest import OHLC, Candlestick, QuoteOHLC, Wire
from .scalars import Count, Dollars, OptDollars, Timestamp, blank_to_none, from_unix_s

ZERO = Decimal(0)


class HistoricalCutoff(Wire, kw_only=True):
    """GET /historical/cutoff: records older than these live only on the /historical endpoints."""

    OBJ = "GetHistoricalCutoffResponse"
    market_settled: Timestamp = msgspec.field(name="market_settled_ts")
    trades_created: Timestamp = msgspec.field(name="trades_created_ts")
    orders_updated: Timestamp = msgspec.field(name="orders_updated_ts")
    market_positions_last_updated: Timestamp | None = msgspec.field(
        name="market_positions_last_updated_ts", default=None
    )


class HistoricalQuoteOHLC(msgspec.Struct, kw_only=True):
    open: Dollars
    low: Dollars
    high: Dollars
    close: Dollars

    def plain(self) -> QuoteOHLC:
        return QuoteOHLC(open=self.open, low=self.low, high=self.high, close=self.close)


class HistoricalPrice(msgspec.Struct, kw_only=True):
    open: OptDollars | None = None
    low: OptDollars | None = None
    high: OptDollars | None = None
    close: OptDollars | None = None
    mean: OptDollars | None = None
    previous: OptDollars | None = None

    def __post_init__(self) -> None:
        blank_to_none(self, ("open", "low", "high", "close", "mean", "previous"))


class HistoricalCandlestick(Wire, kw_only=True):
    OBJ = "MarketCandlestickHistorical"
    end_period_ts: int
    yes_bid: HistoricalQuoteOHLC
    yes_ask: HistoricalQuoteOHLC
    price: HistoricalPrice
    volume: Count
    open_interest: Count

    def as_candlestick(self) -> Candlestick:
        """The live shape, so charts read both alike. A period without volume had no trade: its price fields
        (which may carry an earlier trade's price) are dropped."""
        traded = self.volume > ZERO
        p = self.price
        return Candlestick(
            end_period_ts=self.end_period_ts,
            yes_bid=self.yes_bid.plain(),
            yes_ask=self.yes_ask.plain(),
            price=OHLC(open=p.open, low=p.low, high=p.high, close=p.close) if traded else OHLC(),
            volume=self.volume,
            open_interest=self.open_interest,
        )


class QueuePosition(Wire, kw_only=True):
    OBJ = "OrderQueuePosition"
    order_id: str
    market_ticker: str
    queue_position: Count = msgspec.field(name="queue_position_fp")  # contracts ahead of the order


class CashTransfer(Wire, kw_only=True):
    """A deposit or a withdrawal (the two share one shape)."""

    OBJ = "Deposit"
    id: str
    status: str  # pending | applied | failed | returned
    type: str  # ach | wire | crypto | debit | apm
    amount_cents: int
    fee_cents: int
    created_ts: int
    finalized_ts: int | None = None

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_cents) / 100

    @property
    def fee(self) -> Decimal:
        return Decimal(self.fee_cents) / 100

    @property
    def created(self) -> datetime:
        return from_unix_s(self.created_ts)

    @property
    def finalized(self) -> datetime | None:
        return from_unix_s(self.finalized_ts) if self.finalized_ts is not None else None
