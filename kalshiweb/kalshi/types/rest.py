"""Kalshi's REST responses and requests (protocol §6, required fields per §10), declared once.

Attribute names drop the wire suffixes (``yes_bid`` is ``yes_bid_dollars`` on the wire, ``volume`` is
``volume_fp``). ``X.from_dict(d)`` checks the required fields and types and raises ``ProtocolError`` naming
the object and the field; unknown extra fields are tolerated. Required fields the client does not use are
declared ``Any`` so their absence still fails (a schema change) without modelling them.

Slightly over 600 lines: one declaration per REST object the client reads, kept together so a reader sees the
whole REST surface in one file; splitting it by tag would scatter ``Order`` from ``CreateOrderResult``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Self

import msgspec
from msgspec import UNSET

from ..errors import KalshiError, ProtocolError, error_from_response
from .scalars import (
    Count,
    Dollars,
    Number,
    OptCount,
    OptDollars,
    OptTimestamp,
    SignedCount,
    Timestamp,
    UnixS,
    blank_to_none,
    check_legacy,
    convert,
    format_count,
    format_price,
    from_unix_ms,
    from_unix_s,
)
from .ws import Levels, PriceRanges

_CENTS = "integer cents/counts, removed 2026-03-12"


class Wire(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of the REST types. ``OBJ``: the schema name errors use; ``LEGACY``: removed fields. Encoding leaves
    out fields at their default (the simulator writes ``null`` only where Kalshi does)."""

    OBJ: ClassVar[str] = ""
    LEGACY: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    @classmethod
    def from_dict(cls, d: Any, obj: str | None = None) -> Self:
        name = obj or cls.OBJ or cls.__name__
        value = convert(name, _mapping(name, d), cls)
        check_legacy(name, value)
        return value


def _mapping(obj: str, d: Any) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        shown = repr(d)[:80]
        raise ProtocolError(
            f"{obj} must be an object, got {type(d).__name__} {shown}", obj=obj, field="<body>"
        )
    return d


def _legacy(name: str) -> Any:
    return msgspec.field(name=name, default=UNSET)


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: tuple[T, ...]
    cursor: str | None  # None: this was the last page


class ExchangeStatus(Wire, kw_only=True):
    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: OptTimestamp | None = None

    def __post_init__(self) -> None:
        blank_to_none(self, ("exchange_estimated_resume_time",))


class Market(Wire, kw_only=True):
    ticker: str
    event_ticker: str
    market_type: str
    title: str | None = None
    subtitle: str | None = None
    yes_sub_title: str
    no_sub_title: str
    created_time: Timestamp
    updated_time: Timestamp
    open_time: Timestamp
    close_time: Timestamp
    latest_expiration_time: Timestamp
    expected_expiration_time: OptTimestamp | None = None
    settlement_timer_seconds: int
    status: str
    yes_bid: Dollars = msgspec.field(name="yes_bid_dollars")
    yes_bid_size: Count = msgspec.field(name="yes_bid_size_fp")
    yes_ask: Dollars = msgspec.field(name="yes_ask_dollars")
    yes_ask_size: Count = msgspec.field(name="yes_ask_size_fp")
    no_bid: Dollars = msgspec.field(name="no_bid_dollars")
    no_ask: Dollars = msgspec.field(name="no_ask_dollars")
    last_price: Dollars = msgspec.field(name="last_price_dollars")
    volume: Count = msgspec.field(name="volume_fp")
    volume_24h: Count = msgspec.field(name="volume_24h_fp")
    result: str
    can_close_early: bool
    open_interest: Count = msgspec.field(name="open_interest_fp")
    notional_value: Dollars = msgspec.field(name="notional_value_dollars")
    previous_yes_bid: Dollars = msgspec.field(name="previous_yes_bid_dollars")
    previous_yes_ask: Dollars = msgspec.field(name="previous_yes_ask_dollars")
    previous_price: Dollars = msgspec.field(name="previous_price_dollars")
    settlement_bounds_type: str
    settlement_value: OptDollars | None = msgspec.field(name="settlement_value_dollars", default=None)
    expiration_value: str
    rules_primary: str
    rules_secondary: str
    price_level_structure: str
    price_ranges: PriceRanges
    exchange_index: int | None = None
    # Sent by Kalshi (and the simulator), not read by the client:
    expiration_time: OptTimestamp | None = None  # deprecated: latest_expiration_time
    settlement_ts: OptTimestamp | None = None
    strike_type: str | None = None
    floor_strike: int | float | None = None  # a JSON number (a strike, not money)
    cap_strike: int | float | None = None
    legacy_yes_bid: Any = _legacy("yes_bid")
    legacy_yes_ask: Any = _legacy("yes_ask")
    legacy_no_bid: Any = _legacy("no_bid")
    legacy_no_ask: Any = _legacy("no_ask")
    legacy_last_price: Any = _legacy("last_price")
    legacy_volume: Any = _legacy("volume")
    legacy_volume_24h: Any = _legacy("volume_24h")
    legacy_open_interest: Any = _legacy("open_interest")
    LEGACY = tuple(
        (f"legacy_{k}", k, _CENTS)
        for k in (
            "yes_bid",
            "yes_ask",
            "no_bid",
            "no_ask",
            "last_price",
            "volume",
            "volume_24h",
            "open_interest",
        )
    )

    def __post_init__(self) -> None:
        blank_to_none(
            self, ("expected_expiration_time", "settlement_value", "expiration_time", "settlement_ts")
        )
        if self.price_ranges is None:
            self.price_ranges = ()


class OrderbookFp(msgspec.Struct, kw_only=True):
    yes: Levels = msgspec.field(name="yes_dollars")
    no: Levels = msgspec.field(name="no_dollars")


class Orderbook(msgspec.Struct, kw_only=True):
    """REST order book: YES and NO bid ladders, ascending by price (best bid last), NO in NO-leg prices."""

    ticker: str
    yes: Levels
    no: Levels

    @classmethod
    def from_book_fp(cls, ticker: str, book: Any, obj: str = "orderbook_fp") -> Orderbook:
        fp = convert(obj, _mapping(obj, book), OrderbookFp)
        return cls(ticker=ticker, yes=fp.yes, no=fp.no)

    @classmethod
    def from_response(cls, ticker: str, d: Any) -> Orderbook:
        o = "GetMarketOrderbookResponse"
        d = _mapping(o, d)
        if "orderbook" in d:
            raise ProtocolError(
                f"{o} carries legacy field 'orderbook' ({_CENTS}); the peer speaks a removed protocol version",
                obj=o,
                field="orderbook",
            )
        if "orderbook_fp" not in d:
            raise ProtocolError(f"{o} is missing required field 'orderbook_fp'", obj=o, field="orderbook_fp")
        return cls.from_book_fp(ticker, d["orderbook_fp"])


class PublicTrade(Wire, kw_only=True):
    OBJ = "Trade"
    trade_id: str
    ticker: str
    count: Count = msgspec.field(name="count_fp")
    yes_price: Dollars = msgspec.field(name="yes_price_dollars")
    no_price: Dollars = msgspec.field(name="no_price_dollars")
    taker_outcome_side: str
    taker_book_side: str
    created_time: Timestamp
    is_block_trade: bool
    taker_side: str | None = None  # deprecated: taker_outcome_side


class Event(Wire, kw_only=True):
    event_ticker: str
    series_ticker: str
    sub_title: str
    title: str
    collateral_return_type: str
    mutually_exclusive: bool
    settlement_sources: Any
    category: str | None = None
    strike_date: OptTimestamp | None = None
    markets: tuple[Market, ...] | None = None
    exchange_index: int | None = None
    strike_period: str | None = None
    available_on_brokers: bool | None = None
    last_updated: OptTimestamp | None = msgspec.field(name="last_updated_ts", default=None)

    def __post_init__(self) -> None:
        blank_to_none(self, ("strike_date", "last_updated"))
        if self.markets is None:
            self.markets = ()


class Series(Wire, kw_only=True):
    ticker: str
    frequency: str
    title: str
    category: str
    categories: Any
    tags: tuple[str, ...] | None
    settlement_sources: Any
    contract_url: str
    contract_terms_url: Any
    fee_type: str
    fee_multiplier: Number
    additional_prohibitions: Any
    volume: OptCount | None = msgspec.field(name="volume_fp", default=None)
    last_updated: OptTimestamp | None = msgspec.field(name="last_updated_ts", default=None)
    exchange_index: int | None = None

    def __post_init__(self) -> None:
        blank_to_none(self, ("volume", "last_updated"))
        if self.tags is None:
            self.tags = ()


class QuoteOHLC(msgspec.Struct, kw_only=True):
    open: Dollars = msgspec.field(name="open_dollars")
    low: Dollars = msgspec.field(name="low_dollars")
    high: Dollars = msgspec.field(name="high_dollars")
    close: Dollars = msgspec.field(name="close_dollars")


class OHLC(msgspec.Struct, kw_only=True):
    """Trade prices of a period: all None when there was no trade."""

    open: OptDollars | None = msgspec.field(name="open_dollars", default=None)
    low: OptDollars | None = msgspec.field(name="low_dollars", default=None)
    high: OptDollars | None = msgspec.field(name="high_dollars", default=None)
    close: OptDollars | None = msgspec.field(name="close_dollars", default=None)

    def __post_init__(self) -> None:
        blank_to_none(self, ("open", "low", "high", "close"))


class Candlestick(Wire, kw_only=True):
    OBJ = "MarketCandlestick"
    end_period_ts: int
    yes_bid: QuoteOHLC
    yes_ask: QuoteOHLC
    price: OHLC
    volume: Count = msgspec.field(name="volume_fp")
    open_interest: Count = msgspec.field(name="open_interest_fp")

    @property
    def end_period(self) -> datetime:
        return from_unix_s(self.end_period_ts)


class Balance(Wire, kw_only=True):
    OBJ = "GetBalanceResponse"
    balance_cents: int = msgspec.field(name="balance")  # available balance, integer cents
    balance: Dollars = msgspec.field(name="balance_dollars")  # the same in dollars (centi-cent precision)
    portfolio_value_cents: int = msgspec.field(name="portfolio_value")
    updated: UnixS = msgspec.field(name="updated_ts")
    balance_breakdown: list[Any] | None = None


class MarketPosition(Wire, kw_only=True):
    ticker: str
    exchange_index: int
    total_traded: Dollars = msgspec.field(name="total_traded_dollars")
    position: SignedCount = msgspec.field(name="position_fp")  # > 0 YES contracts, < 0 NO contracts
    market_exposure: Dollars = msgspec.field(name="market_exposure_dollars")
    realized_pnl: Dollars = msgspec.field(name="realized_pnl_dollars")
    fees_paid: Dollars = msgspec.field(name="fees_paid_dollars")
    last_updated: Timestamp = msgspec.field(name="last_updated_ts")


class EventPosition(Wire, kw_only=True):
    event_ticker: str
    total_cost: Dollars = msgspec.field(name="total_cost_dollars")
    total_cost_shares: SignedCount = msgspec.field(name="total_cost_shares_fp")
    event_exposure: Dollars = msgspec.field(name="event_exposure_dollars")
    realized_pnl: Dollars = msgspec.field(name="realized_pnl_dollars")
    fees_paid: Dollars = msgspec.field(name="fees_paid_dollars")


class Positions(Wire, kw_only=True):
    OBJ = "GetPositionsResponse"
    market_positions: tuple[MarketPosition, ...] | None
    event_positions: tuple[EventPosition, ...] | None
    cursor: str | None = None

    def __post_init__(self) -> None:
        self.market_positions = self.market_positions or ()
        self.event_positions = self.event_positions or ()
        self.cursor = self.cursor or None


class PortfolioFill(Wire, kw_only=True):
    OBJ = "Fill"
    fill_id: str
    exchange_index: int
    trade_id: str
    order_id: str
    ticker: str
    market_ticker: Any
    outcome_side: str
    book_side: str
    count: Count = msgspec.field(name="count_fp")
    yes_price: Dollars = msgspec.field(name="yes_price_dollars")
    no_price: Dollars = msgspec.field(name="no_price_dollars")
    is_taker: bool
    fee_cost: Dollars
    created_time: OptTimestamp | None = None
    ts: int | None = None
    side: str | None = None  # deprecated: outcome_side
    action: str | None = None  # deprecated: always "buy" in V2
    subaccount_number: int | None = None

    def __post_init__(self) -> None:
        blank_to_none(self, ("created_time",))
        if self.created_time is None and self.ts is not None:
            self.created_time = from_unix_s(self.ts)


class Settlement(Wire, kw_only=True):
    ticker: str
    exchange_index: int
    event_ticker: str
    market_result: str
    yes_count: Count = msgspec.field(name="yes_count_fp")
    yes_total_cost: Dollars = msgspec.field(name="yes_total_cost_dollars")
    no_count: Count = msgspec.field(name="no_count_fp")
    no_total_cost: Dollars = msgspec.field(name="no_total_cost_dollars")
    revenue_cents: int = msgspec.field(name="revenue")
    settled_time: Timestamp
    fee_cost: Dollars
    value_cents: int | None = msgspec.field(name="value", default=None)


class Order(Wire, kw_only=True):
    order_id: str
    user_id: str
    client_order_id: str
    ticker: str
    outcome_side: str  # yes | no
    book_side: str  # bid | ask (bid ≡ yes)
    type: str
    status: str  # resting | canceled | executed
    yes_price: Dollars = msgspec.field(name="yes_price_dollars")
    no_price: Dollars = msgspec.field(name="no_price_dollars")
    fill_count: Count = msgspec.field(name="fill_count_fp")
    remaining_count: Count = msgspec.field(name="remaining_count_fp")
    initial_count: Count = msgspec.field(name="initial_count_fp")
    taker_fill_cost: Dollars = msgspec.field(name="taker_fill_cost_dollars")
    maker_fill_cost: Dollars = msgspec.field(name="maker_fill_cost_dollars")
    taker_fees: Dollars = msgspec.field(name="taker_fees_dollars")
    maker_fees: Dollars = msgspec.field(name="maker_fees_dollars")
    created_time: OptTimestamp | None = None
    last_update_time: OptTimestamp | None = None
    expiration_time: OptTimestamp | None = None
    self_trade_prevention_type: str | None = None
    order_group_id: str | None = None
    exchange_index: int | None = None
    side: str | None = None  # deprecated: outcome_side
    action: str | None = None  # deprecated: always "buy" in V2
    cancel_order_on_pause: bool | None = None
    subaccount_number: int | None = None

    def __post_init__(self) -> None:
        blank_to_none(self, ("created_time", "last_update_time", "expiration_time"))


_TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")


class OrderRequest(Wire, omit_defaults=False):
    """A V2 create-order body. ``side`` is the YES-leg book side: ``bid`` buys YES, ``ask`` sells YES.
    Building one checks it (``ValueError``); the price is kept with 4 places and the count with 2, as sent."""

    OBJ = "CreateOrderV2Request"
    ticker: str
    side: str
    count: Count
    price: Dollars
    client_order_id: str
    time_in_force: str = "good_till_canceled"
    self_trade_prevention_type: str = "taker_at_cross"
    expiration_time: int | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    cancel_order_on_pause: bool | None = None
    order_group_id: str | None = None
    subaccount: int | None = None
    exchange_index: int | None = None

    def __post_init__(self) -> None:
        if self.side not in ("bid", "ask"):
            raise ValueError(f"side must be 'bid' or 'ask' (YES-leg book side), got {self.side!r}")
        if not isinstance(self.price, Decimal) or not (0 < self.price < 1):
            raise ValueError(f"price must be a Decimal strictly between 0 and 1, got {self.price!r}")
        if not isinstance(self.count, (Decimal, int)) or isinstance(self.count, bool) or self.count <= 0:
            raise ValueError(f"count must be a positive Decimal, got {self.count!r}")
        if self.time_in_force not in _TIME_IN_FORCE:
            raise ValueError(f"unknown time_in_force {self.time_in_force!r}")
        self.price = Decimal(format_price(self.price))
        self.count = Decimal(format_count(self.count))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = msgspec.to_builtins(self)
        return {k: v for k, v in body.items() if v is not None}

    @classmethod
    def from_dict(cls, d: Any, obj: str | None = None) -> OrderRequest:
        """Validate a stored/received V2 create body (V1 shapes with integer cents fail loudly)."""
        o = obj or cls.OBJ
        d = _mapping(o, d)
        for key, why in (
            ("yes_price", "V1 integer cents"),
            ("no_price", "V1 integer cents"),
            ("action", "V1"),
        ):
            if key in d:
                raise ProtocolError(
                    f"{o} carries legacy field {key!r} ({why}); the peer speaks a removed protocol version",
                    obj=o,
                    field=key,
                )
        for key in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type"):
            if key not in d:
                raise ProtocolError(f"{o} is missing required field {key!r}", obj=o, field=key)
        body = dict(d)
        if body.get("client_order_id") is None:
            body["client_order_id"] = ""
        return convert(o, body, cls)


class CreateOrderResult(Wire, kw_only=True):
    OBJ = "CreateOrderV2Response"
    order_id: str
    client_order_id: str | None = None
    fill_count: Count
    remaining_count: Count
    average_fill_price: OptDollars | None = None
    average_fee_paid: OptDollars | None = None
    ts_ms: int

    def __post_init__(self) -> None:
        blank_to_none(self, ("average_fill_price", "average_fee_paid"))

    @property
    def ts(self) -> datetime:
        return from_unix_ms(self.ts_ms)


class CancelOrderResult(Wire, kw_only=True):
    OBJ = "CancelOrderV2Response"
    order_id: str
    client_order_id: str | None = None
    reduced_by: Count
    ts_ms: int | None = None

    @property
    def ts(self) -> datetime | None:
        return None if self.ts_ms is None else from_unix_ms(self.ts_ms)


class AmendOrderResult(Wire, kw_only=True):
    OBJ = "AmendOrderV2Response"
    order_id: str
    client_order_id: str | None = None
    remaining_count: OptCount | None = None
    fill_count: OptCount | None = None
    average_fill_price: OptDollars | None = None
    ts_ms: int

    def __post_init__(self) -> None:
        blank_to_none(self, ("remaining_count", "fill_count", "average_fill_price"))

    @property
    def ts(self) -> datetime:
        return from_unix_ms(self.ts_ms)


class DecreaseOrderResult(Wire, kw_only=True):
    OBJ = "DecreaseOrderV2Response"
    order_id: str
    client_order_id: str | None = None
    remaining_count: Count
    ts_ms: int

    @property
    def ts(self) -> datetime:
        return from_unix_ms(self.ts_ms)


def _item_error(obj: str, d: Mapping[str, Any]) -> KalshiError | None:
    err = d.get("error")
    if err is None:
        return None
    if not isinstance(err, Mapping):
        raise ProtocolError(f"{obj} field 'error' must be an object", obj=obj, field="error")
    return error_from_response(0, {"error": err}, client_order_id=d.get("client_order_id"))


@dataclass(frozen=True, slots=True)
class BatchCreateItem:
    """One row of a batch create: either ``result`` or ``error`` is set."""

    client_order_id: str | None
    result: CreateOrderResult | None
    error: KalshiError | None = field(compare=False)

    @classmethod
    def from_dict(cls, d: Any) -> BatchCreateItem:
        o = "BatchCreateOrdersV2Response.orders[]"
        d = _mapping(o, d)
        err = _item_error(o, d)
        coid = d.get("client_order_id")
        if coid is not None and not isinstance(coid, str):
            raise ProtocolError(
                f"{o} field 'client_order_id' must be a string", obj=o, field="client_order_id"
            )
        return cls(
            client_order_id=coid,
            result=None if err is not None else CreateOrderResult.from_dict(d, o),
            error=err,
        )


@dataclass(frozen=True, slots=True)
class BatchCancelItem:
    order_id: str
    result: CancelOrderResult | None
    error: KalshiError | None = field(compare=False)

    @classmethod
    def from_dict(cls, d: Any) -> BatchCancelItem:
        o = "BatchCancelOrdersV2Response.orders[]"
        d = _mapping(o, d)
        err = _item_error(o, d)
        order_id = d.get("order_id")
        if not isinstance(order_id, str):
            raise ProtocolError(f"{o} is missing required field 'order_id'", obj=o, field="order_id")
        return cls(
            order_id=order_id,
            result=None if err is not None else CancelOrderResult.from_dict(d, o),
            error=err,
        )


class BucketLimit(msgspec.Struct, kw_only=True):
    refill_rate: int
    bucket_capacity: int


class AccountLimits(Wire, kw_only=True):
    OBJ = "GetAccountLimitsResponse"
    usage_tier: str
    read: BucketLimit
    write: BucketLimit


def page_of(
    obj: str, key: str, d: Any, parse: Callable[[Any], Any], *, cursor_required: bool = True
) -> Page[Any]:
    d = _mapping(obj, d)
    if key not in d:
        raise ProtocolError(f"{obj} is missing required field {key!r}", obj=obj, field=key)
    items = d[key]
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ProtocolError(f"{obj} field {key!r} must be a list", obj=obj, field=key)
    if cursor_required and "cursor" not in d:
        raise ProtocolError(f"{obj} is missing required field 'cursor'", obj=obj, field="cursor")
    cursor = d.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ProtocolError(f"{obj} field 'cursor' must be a string", obj=obj, field="cursor")
    return Page(items=tuple(parse(x) for x in items), cursor=cursor or None)
