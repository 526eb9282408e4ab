"""Typed REST results (protocol §6, required fields per §10).

Every ``from_dict`` checks the required fields first and raises ``ProtocolError`` naming the object and the
field; unknown extra fields are tolerated (and kept in ``raw`` where an object has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import fields as f
from .errors import KalshiError, ProtocolError, error_from_response
from .messages import PriceRange, parse_price_ranges

Levels = tuple[tuple[Decimal, Decimal], ...]


def _list(obj: str, d: Mapping[str, Any], key: str, *, optional: bool = False) -> list[Any]:
    value = d.get(key)
    if value is None:
        if optional or key in d:
            return []
        raise f.missing(obj, key)
    if not isinstance(value, list):
        raise f.wrong(obj, key, "a list", value)
    return value


def _cursor(obj: str, d: Mapping[str, Any], *, required: bool = True) -> str | None:
    if required:
        f.get(obj, d, "cursor")
    value = d.get("cursor")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise f.wrong(obj, "cursor", "a string", value)
    return value


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: tuple[T, ...]
    cursor: str | None  # None: this was the last page


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: datetime | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExchangeStatus:
        o = "ExchangeStatus"
        d = f.require_mapping(o, d)
        return cls(
            exchange_active=f.boolean(o, d, "exchange_active"),
            trading_active=f.boolean(o, d, "trading_active"),
            exchange_estimated_resume_time=f.opt_timestamp(o, d, "exchange_estimated_resume_time"),
        )


_MARKET_REQUIRED = (
    "ticker",
    "event_ticker",
    "market_type",
    "yes_sub_title",
    "no_sub_title",
    "created_time",
    "updated_time",
    "open_time",
    "close_time",
    "latest_expiration_time",
    "settlement_timer_seconds",
    "status",
    "yes_bid_dollars",
    "yes_bid_size_fp",
    "yes_ask_dollars",
    "yes_ask_size_fp",
    "no_bid_dollars",
    "no_ask_dollars",
    "last_price_dollars",
    "volume_fp",
    "volume_24h_fp",
    "result",
    "can_close_early",
    "open_interest_fp",
    "notional_value_dollars",
    "previous_yes_bid_dollars",
    "previous_yes_ask_dollars",
    "previous_price_dollars",
    "settlement_bounds_type",
    "expiration_value",
    "rules_primary",
    "rules_secondary",
    "price_level_structure",
    "price_ranges",
)
_MARKET_LEGACY = {
    k: "integer cents/counts, removed 2026-03-12"
    for k in ("yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "volume", "volume_24h", "open_interest")
}


@dataclass(frozen=True, slots=True)
class Market:
    ticker: str
    event_ticker: str
    market_type: str
    title: str | None
    subtitle: str | None
    yes_sub_title: str
    no_sub_title: str
    status: str
    created_time: datetime
    updated_time: datetime
    open_time: datetime
    close_time: datetime
    latest_expiration_time: datetime
    expected_expiration_time: datetime | None
    settlement_timer_seconds: int
    yes_bid: Decimal
    yes_bid_size: Decimal
    yes_ask: Decimal
    yes_ask_size: Decimal
    no_bid: Decimal
    no_ask: Decimal
    last_price: Decimal
    previous_yes_bid: Decimal
    previous_yes_ask: Decimal
    previous_price: Decimal
    volume: Decimal
    volume_24h: Decimal
    open_interest: Decimal
    notional_value: Decimal
    result: str
    can_close_early: bool
    settlement_bounds_type: str
    settlement_value: Decimal | None
    expiration_value: str
    rules_primary: str
    rules_secondary: str
    price_level_structure: str
    price_ranges: tuple[PriceRange, ...]
    exchange_index: int | None
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Market:
        o = "Market"
        d = f.require_mapping(o, d)
        f.require(o, d, _MARKET_REQUIRED)
        f.reject_legacy(o, d, _MARKET_LEGACY)
        return cls(
            ticker=f.string(o, d, "ticker"),
            event_ticker=f.string(o, d, "event_ticker"),
            market_type=f.string(o, d, "market_type"),
            title=f.opt_string(o, d, "title"),
            subtitle=f.opt_string(o, d, "subtitle"),
            yes_sub_title=f.string(o, d, "yes_sub_title"),
            no_sub_title=f.string(o, d, "no_sub_title"),
            status=f.string(o, d, "status"),
            created_time=f.timestamp(o, d, "created_time"),
            updated_time=f.timestamp(o, d, "updated_time"),
            open_time=f.timestamp(o, d, "open_time"),
            close_time=f.timestamp(o, d, "close_time"),
            latest_expiration_time=f.timestamp(o, d, "latest_expiration_time"),
            expected_expiration_time=f.opt_timestamp(o, d, "expected_expiration_time"),
            settlement_timer_seconds=f.integer(o, d, "settlement_timer_seconds"),
            yes_bid=f.dollars(o, d, "yes_bid_dollars"),
            yes_bid_size=f.count(o, d, "yes_bid_size_fp"),
            yes_ask=f.dollars(o, d, "yes_ask_dollars"),
            yes_ask_size=f.count(o, d, "yes_ask_size_fp"),
            no_bid=f.dollars(o, d, "no_bid_dollars"),
            no_ask=f.dollars(o, d, "no_ask_dollars"),
            last_price=f.dollars(o, d, "last_price_dollars"),
            previous_yes_bid=f.dollars(o, d, "previous_yes_bid_dollars"),
            previous_yes_ask=f.dollars(o, d, "previous_yes_ask_dollars"),
            previous_price=f.dollars(o, d, "previous_price_dollars"),
            volume=f.count(o, d, "volume_fp"),
            volume_24h=f.count(o, d, "volume_24h_fp"),
            open_interest=f.count(o, d, "open_interest_fp"),
            notional_value=f.dollars(o, d, "notional_value_dollars"),
            result=f.string(o, d, "result"),
            can_close_early=f.boolean(o, d, "can_close_early"),
            settlement_bounds_type=f.string(o, d, "settlement_bounds_type"),
            settlement_value=f.opt_dollars(o, d, "settlement_value_dollars"),
            expiration_value=f.string(o, d, "expiration_value"),
            rules_primary=f.string(o, d, "rules_primary"),
            rules_secondary=f.string(o, d, "rules_secondary"),
            price_level_structure=f.string(o, d, "price_level_structure"),
            price_ranges=parse_price_ranges(o, d["price_ranges"]),
            exchange_index=f.opt_integer(o, d, "exchange_index"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Orderbook:
    """REST order book: YES and NO bid ladders, ascending by price (best bid last), NO in NO-leg prices."""

    ticker: str
    yes: Levels
    no: Levels

    @classmethod
    def from_book_fp(cls, ticker: str, book: Any, obj: str = "orderbook_fp") -> Orderbook:
        book = f.require_mapping(obj, book)
        return cls(
            ticker=ticker,
            yes=f.levels(obj, book, "yes_dollars"),
            no=f.levels(obj, book, "no_dollars"),
        )

    @classmethod
    def from_response(cls, ticker: str, d: Mapping[str, Any]) -> Orderbook:
        o = "GetMarketOrderbookResponse"
        d = f.require_mapping(o, d)
        f.reject_legacy(o, d, {"orderbook": "integer cents/counts, removed 2026-03-12"})
        return cls.from_book_fp(ticker, f.get(o, d, "orderbook_fp"))


@dataclass(frozen=True, slots=True)
class PublicTrade:
    trade_id: str
    ticker: str
    count: Decimal
    yes_price: Decimal
    no_price: Decimal
    taker_outcome_side: str
    taker_book_side: str
    created_time: datetime
    is_block_trade: bool

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PublicTrade:
        o = "Trade"
        d = f.require_mapping(o, d)
        f.require(
            o,
            d,
            (
                "trade_id",
                "ticker",
                "count_fp",
                "yes_price_dollars",
                "no_price_dollars",
                "taker_outcome_side",
                "taker_book_side",
                "created_time",
                "is_block_trade",
            ),
        )
        return cls(
            trade_id=f.string(o, d, "trade_id"),
            ticker=f.string(o, d, "ticker"),
            count=f.count(o, d, "count_fp"),
            yes_price=f.dollars(o, d, "yes_price_dollars"),
            no_price=f.dollars(o, d, "no_price_dollars"),
            taker_outcome_side=f.string(o, d, "taker_outcome_side"),
            taker_book_side=f.string(o, d, "taker_book_side"),
            created_time=f.timestamp(o, d, "created_time"),
            is_block_trade=f.boolean(o, d, "is_block_trade"),
        )


@dataclass(frozen=True, slots=True)
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    collateral_return_type: str
    mutually_exclusive: bool
    category: str | None
    strike_date: datetime | None
    markets: tuple[Market, ...]
    exchange_index: int | None
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        o = "Event"
        d = f.require_mapping(o, d)
        f.require(
            o,
            d,
            (
                "event_ticker",
                "series_ticker",
                "sub_title",
                "title",
                "collateral_return_type",
                "mutually_exclusive",
                "settlement_sources",
            ),
        )
        return cls(
            event_ticker=f.string(o, d, "event_ticker"),
            series_ticker=f.string(o, d, "series_ticker"),
            title=f.string(o, d, "title"),
            sub_title=f.string(o, d, "sub_title"),
            collateral_return_type=f.string(o, d, "collateral_return_type"),
            mutually_exclusive=f.boolean(o, d, "mutually_exclusive"),
            category=f.opt_string(o, d, "category"),
            strike_date=f.opt_timestamp(o, d, "strike_date"),
            markets=tuple(Market.from_dict(m) for m in _list(o, d, "markets", optional=True)),
            exchange_index=f.opt_integer(o, d, "exchange_index"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Series:
    ticker: str
    frequency: str
    title: str
    category: str
    tags: tuple[str, ...]
    fee_type: str
    fee_multiplier: Decimal
    contract_url: str
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Series:
        o = "Series"
        d = f.require_mapping(o, d)
        f.require(
            o,
            d,
            (
                "ticker",
                "frequency",
                "title",
                "category",
                "categories",
                "tags",
                "settlement_sources",
                "contract_url",
                "contract_terms_url",
                "fee_type",
                "fee_multiplier",
                "additional_prohibitions",
            ),
        )
        mult = d["fee_multiplier"]
        if isinstance(mult, bool) or not isinstance(mult, (int, float, str)):
            raise f.wrong(o, "fee_multiplier", "a number", mult)
        tags = d.get("tags") or []
        return cls(
            ticker=f.string(o, d, "ticker"),
            frequency=f.string(o, d, "frequency"),
            title=f.string(o, d, "title"),
            category=f.string(o, d, "category"),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            fee_type=f.string(o, d, "fee_type"),
            fee_multiplier=Decimal(str(mult)),
            contract_url=f.string(o, d, "contract_url"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class OHLC:
    open: Decimal | None
    low: Decimal | None
    high: Decimal | None
    close: Decimal | None

    @classmethod
    def from_dict(cls, obj: str, d: Any, *, required: bool) -> OHLC:
        d = f.require_mapping(obj, d)
        reader = f.dollars if required else f.opt_dollars
        return cls(
            open=reader(obj, d, "open_dollars"),
            low=reader(obj, d, "low_dollars"),
            high=reader(obj, d, "high_dollars"),
            close=reader(obj, d, "close_dollars"),
        )


@dataclass(frozen=True, slots=True)
class Candlestick:
    end_period: datetime
    yes_bid: OHLC
    yes_ask: OHLC
    price: OHLC  # fields are None when there was no trade in the period
    volume: Decimal
    open_interest: Decimal

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Candlestick:
        o = "MarketCandlestick"
        d = f.require_mapping(o, d)
        f.require(o, d, ("end_period_ts", "yes_bid", "yes_ask", "price", "volume_fp", "open_interest_fp"))
        return cls(
            end_period=f.unix_s(o, d, "end_period_ts"),
            yes_bid=OHLC.from_dict(f"{o}.yes_bid", d["yes_bid"], required=True),
            yes_ask=OHLC.from_dict(f"{o}.yes_ask", d["yes_ask"], required=True),
            price=OHLC.from_dict(f"{o}.price", d["price"], required=False),
            volume=f.count(o, d, "volume_fp"),
            open_interest=f.count(o, d, "open_interest_fp"),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    balance_cents: int  # available balance, integer cents
    balance: Decimal  # the same in dollars (centi-cent precision)
    portfolio_value_cents: int
    updated: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Balance:
        o = "GetBalanceResponse"
        d = f.require_mapping(o, d)
        f.require(o, d, ("balance", "balance_dollars", "portfolio_value", "updated_ts"))
        return cls(
            balance_cents=f.integer(o, d, "balance"),
            balance=f.dollars(o, d, "balance_dollars"),
            portfolio_value_cents=f.integer(o, d, "portfolio_value"),
            updated=f.unix_s(o, d, "updated_ts"),
        )


@dataclass(frozen=True, slots=True)
class MarketPosition:
    ticker: str
    exchange_index: int
    position: Decimal  # signed: > 0 YES contracts, < 0 NO contracts
    total_traded: Decimal
    market_exposure: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    last_updated: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MarketPosition:
        o = "MarketPosition"
        d = f.require_mapping(o, d)
        f.require(
            o,
            d,
            (
                "ticker",
                "exchange_index",
                "total_traded_dollars",
                "position_fp",
                "market_exposure_dollars",
                "realized_pnl_dollars",
                "fees_paid_dollars",
                "last_updated_ts",
            ),
        )
        return cls(
            ticker=f.string(o, d, "ticker"),
            exchange_index=f.integer(o, d, "exchange_index"),
            position=f.dollars(o, d, "position_fp").quantize(f.CENT_COUNT),
            total_traded=f.dollars(o, d, "total_traded_dollars"),
            market_exposure=f.dollars(o, d, "market_exposure_dollars"),
            realized_pnl=f.dollars(o, d, "realized_pnl_dollars"),
            fees_paid=f.dollars(o, d, "fees_paid_dollars"),
            last_updated=f.timestamp(o, d, "last_updated_ts"),
        )


@dataclass(frozen=True, slots=True)
class EventPosition:
    event_ticker: str
    total_cost: Decimal
    total_cost_shares: Decimal
    event_exposure: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EventPosition:
        o = "EventPosition"
        d = f.require_mapping(o, d)
        f.require(
            o,
            d,
            (
                "event_ticker",
                "total_cost_dollars",
                "total_cost_shares_fp",
                "event_exposure_dollars",
                "realized_pnl_dollars",
                "fees_paid_dollars",
            ),
        )
        return cls(
            event_ticker=f.string(o, d, "event_ticker"),
            total_cost=f.dollars(o, d, "total_cost_dollars"),
            total_cost_shares=f.dollars(o, d, "total_cost_shares_fp").quantize(f.CENT_COUNT),
            event_exposure=f.dollars(o, d, "event_exposure_dollars"),
            realized_pnl=f.dollars(o, d, "realized_pnl_dollars"),
            fees_paid=f.dollars(o, d, "fees_paid_dollars"),
        )


@dataclass(frozen=True, slots=True)
class Positions:
    market_positions: tuple[MarketPosition, ...]
    event_positions: tuple[EventPosition, ...]
    cursor: str | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Positions:
        o = "GetPositionsResponse"
        d = f.require_mapping(o, d)
        return cls(
            market_positions=tuple(MarketPosition.from_dict(x) for x in _list(o, d, "market_positions")),
            event_positions=tuple(EventPosition.from_dict(x) for x in _list(o, d, "event_positions")),
            cursor=_cursor(o, d, required=False),
        )


@dataclass(frozen=True, slots=True)
class PortfolioFill:
    fill_id: str
    trade_id: str
    order_id: str
    ticker: str
    exchange_index: int
    outcome_side: str
    book_side: str
    count: Decimal
    yes_price: Decimal
    no_price: Decimal
    is_taker: bool
    fee_cost: Decimal
    created_time: datetime | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PortfolioFill:
        o = "Fill"
        d = f.require_mapping(o, d)
        f.require(
            o,
            d,
            (
                "fill_id",
                "exchange_index",
                "trade_id",
                "order_id",
                "ticker",
                "market_ticker",
                "outcome_side",
                "book_side",
                "count_fp",
                "yes_price_dollars",
                "no_price_dollars",
                "is_taker",
                "fee_cost",
            ),
        )
        created = f.opt_timestamp(o, d, "created_time")
        if created is None and d.get("ts") is not None:
            created = f.unix_s(o, d, "ts")
        return cls(
            fill_id=f.string(o, d, "fill_id"),
            trade_id=f.string(o, d, "trade_id"),
            order_id=f.string(o, d, "order_id"),
            ticker=f.string(o, d, "ticker"),
            exchange_index=f.integer(o, d, "exchange_index"),
            outcome_side=f.string(o, d, "outcome_side"),
            book_side=f.string(o, d, "book_side"),
            count=f.count(o, d, "count_fp"),
            yes_price=f.dollars(o, d, "yes_price_dollars"),
            no_price=f.dollars(o, d, "no_price_dollars"),
            is_taker=f.boolean(o, d, "is_taker"),
            fee_cost=f.dollars(o, d, "fee_cost"),
            created_time=created,
        )


@dataclass(frozen=True, slots=True)
class Settlement:
    ticker: str
    event_ticker: str
    exchange_index: int
    market_result: str
    yes_count: Decimal
    yes_total_cost: Decimal
    no_count: Decimal
    no_total_cost: Decimal
    revenue_cents: int
    settled_time: datetime
    fee_cost: Decimal
    value_cents: int | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Settlement:
        o = "Settlement"
        d = f.require_mapping(o, d)
        f.require(
            o,
            d,
            (
                "ticker",
                "exchange_index",
                "event_ticker",
                "market_result",
                "yes_count_fp",
                "yes_total_cost_dollars",
                "no_count_fp",
                "no_total_cost_dollars",
                "revenue",
                "settled_time",
                "fee_cost",
            ),
        )
        return cls(
            ticker=f.string(o, d, "ticker"),
            event_ticker=f.string(o, d, "event_ticker"),
            exchange_index=f.integer(o, d, "exchange_index"),
            market_result=f.string(o, d, "market_result"),
            yes_count=f.count(o, d, "yes_count_fp"),
            yes_total_cost=f.dollars(o, d, "yes_total_cost_dollars"),
            no_count=f.count(o, d, "no_count_fp"),
            no_total_cost=f.dollars(o, d, "no_total_cost_dollars"),
            revenue_cents=f.integer(o, d, "revenue"),
            settled_time=f.timestamp(o, d, "settled_time"),
            fee_cost=f.dollars(o, d, "fee_cost"),
            value_cents=f.opt_integer(o, d, "value"),
        )


_ORDER_REQUIRED = (
    "order_id",
    "user_id",
    "client_order_id",
    "ticker",
    "outcome_side",
    "book_side",
    "type",
    "status",
    "yes_price_dollars",
    "no_price_dollars",
    "fill_count_fp",
    "remaining_count_fp",
    "initial_count_fp",
    "taker_fill_cost_dollars",
    "maker_fill_cost_dollars",
    "taker_fees_dollars",
    "maker_fees_dollars",
)


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    user_id: str
    client_order_id: str
    ticker: str
    outcome_side: str  # yes | no
    book_side: str  # bid | ask (bid ≡ yes)
    type: str
    status: str  # resting | canceled | executed
    yes_price: Decimal
    no_price: Decimal
    fill_count: Decimal
    remaining_count: Decimal
    initial_count: Decimal
    taker_fill_cost: Decimal
    maker_fill_cost: Decimal
    taker_fees: Decimal
    maker_fees: Decimal
    created_time: datetime | None
    last_update_time: datetime | None
    expiration_time: datetime | None
    self_trade_prevention_type: str | None
    order_group_id: str | None
    exchange_index: int | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Order:
        o = "Order"
        d = f.require_mapping(o, d)
        f.require(o, d, _ORDER_REQUIRED)
        return cls(
            order_id=f.string(o, d, "order_id"),
            user_id=f.string(o, d, "user_id"),
            client_order_id=f.string(o, d, "client_order_id"),
            ticker=f.string(o, d, "ticker"),
            outcome_side=f.string(o, d, "outcome_side"),
            book_side=f.string(o, d, "book_side"),
            type=f.string(o, d, "type"),
            status=f.string(o, d, "status"),
            yes_price=f.dollars(o, d, "yes_price_dollars"),
            no_price=f.dollars(o, d, "no_price_dollars"),
            fill_count=f.count(o, d, "fill_count_fp"),
            remaining_count=f.count(o, d, "remaining_count_fp"),
            initial_count=f.count(o, d, "initial_count_fp"),
            taker_fill_cost=f.dollars(o, d, "taker_fill_cost_dollars"),
            maker_fill_cost=f.dollars(o, d, "maker_fill_cost_dollars"),
            taker_fees=f.dollars(o, d, "taker_fees_dollars"),
            maker_fees=f.dollars(o, d, "maker_fees_dollars"),
            created_time=f.opt_timestamp(o, d, "created_time"),
            last_update_time=f.opt_timestamp(o, d, "last_update_time"),
            expiration_time=f.opt_timestamp(o, d, "expiration_time"),
            self_trade_prevention_type=f.opt_string(o, d, "self_trade_prevention_type"),
            order_group_id=f.opt_string(o, d, "order_group_id"),
            exchange_index=f.opt_integer(o, d, "exchange_index"),
        )


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A V2 create-order body. ``side`` is the YES-leg book side: ``bid`` buys YES, ``ask`` sells YES."""

    ticker: str
    side: str
    count: Decimal
    price: Decimal
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
        if self.time_in_force not in ("fill_or_kill", "good_till_canceled", "immediate_or_cancel"):
            raise ValueError(f"unknown time_in_force {self.time_in_force!r}")
        f.format_price(self.price)
        f.format_count(self.count)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "side": self.side,
            "count": f.format_count(self.count),
            "price": f.format_price(self.price),
            "time_in_force": self.time_in_force,
            "self_trade_prevention_type": self.self_trade_prevention_type,
            "client_order_id": self.client_order_id,
        }
        for key in (
            "expiration_time",
            "post_only",
            "reduce_only",
            "cancel_order_on_pause",
            "order_group_id",
            "subaccount",
            "exchange_index",
        ):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OrderRequest:
        """Validate a stored/received V2 create body (V1 shapes with integer cents fail loudly)."""
        o = "CreateOrderV2Request"
        d = f.require_mapping(o, d)
        f.reject_legacy(
            o, d, {"yes_price": "V1 integer cents", "no_price": "V1 integer cents", "action": "V1"}
        )
        f.require(o, d, ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type"))
        try:
            return cls(
                ticker=f.string(o, d, "ticker"),
                side=f.string(o, d, "side"),
                count=f.parse_count(o, "count", d["count"]),
                price=f.dollars(o, d, "price"),
                client_order_id=f.opt_string(o, d, "client_order_id") or "",
                time_in_force=f.string(o, d, "time_in_force"),
                self_trade_prevention_type=f.string(o, d, "self_trade_prevention_type"),
                expiration_time=f.opt_integer(o, d, "expiration_time"),
                post_only=f.opt_boolean(o, d, "post_only"),
                reduce_only=f.opt_boolean(o, d, "reduce_only"),
                cancel_order_on_pause=f.opt_boolean(o, d, "cancel_order_on_pause"),
                order_group_id=f.opt_string(o, d, "order_group_id"),
                subaccount=f.opt_integer(o, d, "subaccount"),
                exchange_index=f.opt_integer(o, d, "exchange_index"),
            )
        except ValueError as exc:
            if isinstance(exc, ProtocolError):
                raise
            raise ProtocolError(f"{o}: {exc}", obj=o) from None


@dataclass(frozen=True, slots=True)
class CreateOrderResult:
    order_id: str
    client_order_id: str | None
    fill_count: Decimal
    remaining_count: Decimal
    average_fill_price: Decimal | None
    average_fee_paid: Decimal | None
    ts: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], obj: str = "CreateOrderV2Response") -> CreateOrderResult:
        o = obj
        d = f.require_mapping(o, d)
        f.require(o, d, ("order_id", "fill_count", "remaining_count", "ts_ms"))
        return cls(
            order_id=f.string(o, d, "order_id"),
            client_order_id=f.opt_string(o, d, "client_order_id"),
            fill_count=f.count(o, d, "fill_count"),
            remaining_count=f.count(o, d, "remaining_count"),
            average_fill_price=f.opt_dollars(o, d, "average_fill_price"),
            average_fee_paid=f.opt_dollars(o, d, "average_fee_paid"),
            ts=f.unix_ms(o, d, "ts_ms"),
        )


@dataclass(frozen=True, slots=True)
class CancelOrderResult:
    order_id: str
    client_order_id: str | None
    reduced_by: Decimal
    ts: datetime | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], obj: str = "CancelOrderV2Response") -> CancelOrderResult:
        o = obj
        d = f.require_mapping(o, d)
        f.require(o, d, ("order_id", "reduced_by"))
        return cls(
            order_id=f.string(o, d, "order_id"),
            client_order_id=f.opt_string(o, d, "client_order_id"),
            reduced_by=f.count(o, d, "reduced_by"),
            ts=f.opt_unix_ms(o, d, "ts_ms"),
        )


@dataclass(frozen=True, slots=True)
class AmendOrderResult:
    order_id: str
    client_order_id: str | None
    remaining_count: Decimal | None
    fill_count: Decimal | None
    average_fill_price: Decimal | None
    ts: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AmendOrderResult:
        o = "AmendOrderV2Response"
        d = f.require_mapping(o, d)
        f.require(o, d, ("order_id", "ts_ms"))
        return cls(
            order_id=f.string(o, d, "order_id"),
            client_order_id=f.opt_string(o, d, "client_order_id"),
            remaining_count=f.opt_count(o, d, "remaining_count"),
            fill_count=f.opt_count(o, d, "fill_count"),
            average_fill_price=f.opt_dollars(o, d, "average_fill_price"),
            ts=f.unix_ms(o, d, "ts_ms"),
        )


@dataclass(frozen=True, slots=True)
class DecreaseOrderResult:
    order_id: str
    client_order_id: str | None
    remaining_count: Decimal
    ts: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecreaseOrderResult:
        o = "DecreaseOrderV2Response"
        d = f.require_mapping(o, d)
        f.require(o, d, ("order_id", "remaining_count", "ts_ms"))
        return cls(
            order_id=f.string(o, d, "order_id"),
            client_order_id=f.opt_string(o, d, "client_order_id"),
            remaining_count=f.count(o, d, "remaining_count"),
            ts=f.unix_ms(o, d, "ts_ms"),
        )


def _item_error(obj: str, d: Mapping[str, Any]) -> KalshiError | None:
    err = d.get("error")
    if err is None:
        return None
    if not isinstance(err, Mapping):
        raise f.wrong(obj, "error", "an object", err)
    return error_from_response(0, {"error": err}, client_order_id=d.get("client_order_id"))


@dataclass(frozen=True, slots=True)
class BatchCreateItem:
    """One row of a batch create: either ``result`` or ``error`` is set."""

    client_order_id: str | None
    result: CreateOrderResult | None
    error: KalshiError | None = field(compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BatchCreateItem:
        o = "BatchCreateOrdersV2Response.orders[]"
        d = f.require_mapping(o, d)
        err = _item_error(o, d)
        return cls(
            client_order_id=f.opt_string(o, d, "client_order_id"),
            result=None if err is not None else CreateOrderResult.from_dict(d, o),
            error=err,
        )


@dataclass(frozen=True, slots=True)
class BatchCancelItem:
    order_id: str
    result: CancelOrderResult | None
    error: KalshiError | None = field(compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BatchCancelItem:
        o = "BatchCancelOrdersV2Response.orders[]"
        d = f.require_mapping(o, d)
        err = _item_error(o, d)
        return cls(
            order_id=f.string(o, d, "order_id"),
            result=None if err is not None else CancelOrderResult.from_dict(d, o),
            error=err,
        )


@dataclass(frozen=True, slots=True)
class BucketLimit:
    refill_rate: int
    bucket_capacity: int


@dataclass(frozen=True, slots=True)
class AccountLimits:
    usage_tier: str
    read: BucketLimit
    write: BucketLimit

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccountLimits:
        o = "GetAccountLimitsResponse"
        d = f.require_mapping(o, d)
        f.require(o, d, ("usage_tier", "read", "write"))
        buckets = {}
        for key in ("read", "write"):
            name = f"{o}.{key}"
            b = f.require_mapping(name, d[key], key)
            buckets[key] = BucketLimit(
                f.integer(name, b, "refill_rate"), f.integer(name, b, "bucket_capacity")
            )
        return cls(usage_tier=f.string(o, d, "usage_tier"), read=buckets["read"], write=buckets["write"])


def page_of(obj: str, key: str, d: Any, parse: Any, *, cursor_required: bool = True) -> Page[Any]:
    d = f.require_mapping(obj, d)
    return Page(
        items=tuple(parse(x) for x in _list(obj, d, key)), cursor=_cursor(obj, d, required=cursor_required)
    )
