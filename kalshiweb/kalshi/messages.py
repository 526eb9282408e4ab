"""Typed WebSocket messages (protocol §7.3–7.6) and ``parse_message``.

Required fields follow the newest AsyncAPI (deprecated fields such as ``side``, ``action``, ``ts`` are read when
present, never required). Fields Kalshi removed in 2026 (integer cents, integer counts) are rejected loudly:
a legacy-shaped message raises ``ProtocolError`` naming the missing ``_fp``/``_dollars`` field, or the legacy
field it still carries, instead of parsing to zeros.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import fields as f
from .errors import ProtocolError, WebSocketError, error_from_ws

Levels = tuple[tuple[Decimal, Decimal], ...]

# Removed message types: receiving one means the peer speaks an old protocol version.
REMOVED_TYPES = {
    "multivariate_lookup": "the 'multivariate' channel was removed on 2026-08-06",
    "ticker_v2": "the 'ticker_v2' channel was removed on 2026-02-12",
}

_CENTS = "integer cents, removed 2026-03-12"
_INTCOUNT = "integer count, removed 2026-03-12"


@dataclass(frozen=True, slots=True)
class OrderbookSnapshot:
    sid: int
    seq: int
    market_ticker: str
    market_id: str
    yes: Levels  # YES bids, ascending by price
    no: Levels  # NO bids, ascending (NO-leg prices unless the subscription used use_yes_price)
    command_id: int | None = None
    type: str = "orderbook_snapshot"


@dataclass(slots=True)
class OrderbookDelta:
    """The hot message (thousands a second): a plain slots dataclass, not frozen, because a frozen one costs
    ~1.5 µs more to build. Treat it as read-only all the same."""

    sid: int
    seq: int
    market_ticker: str
    market_id: str
    price: Decimal
    delta: Decimal  # signed change of the resting size, 2 places
    side: str  # "yes" | "no"
    client_order_id: str | None = None
    subaccount: int | None = None
    ts_ms: int | None = None
    type: str = "orderbook_delta"

    @property
    def ts(self) -> datetime | None:
        return None if self.ts_ms is None else f.from_unix_ms(self.ts_ms)


@dataclass(frozen=True, slots=True)
class Ticker:
    sid: int
    market_ticker: str
    market_id: str
    price: Decimal | None  # last trade price; None when the exchange sends ""
    yes_bid: Decimal
    yes_ask: Decimal
    volume: Decimal
    open_interest: Decimal
    dollar_volume: int
    dollar_open_interest: int
    yes_bid_size: Decimal
    yes_ask_size: Decimal
    last_trade_size: Decimal
    ts: datetime
    type: str = "ticker"


@dataclass(frozen=True, slots=True)
class Trade:
    sid: int
    seq: int
    trade_id: str
    market_ticker: str
    yes_price: Decimal
    no_price: Decimal
    count: Decimal
    taker_outcome_side: str
    taker_book_side: str
    is_block_trade: bool
    ts: datetime
    type: str = "trade"


@dataclass(frozen=True, slots=True)
class Fill:
    sid: int
    trade_id: str
    order_id: str
    market_ticker: str
    exchange_index: int
    is_taker: bool
    yes_price: Decimal
    count: Decimal
    fee_cost: Decimal
    outcome_side: str
    book_side: str
    post_position: Decimal
    ts: datetime
    client_order_id: str | None = None
    subaccount: int | None = None
    type: str = "fill"


@dataclass(frozen=True, slots=True)
class UserOrder:
    sid: int
    order_id: str
    user_id: str
    ticker: str
    exchange_index: int
    status: str
    outcome_side: str
    book_side: str
    yes_price: Decimal
    fill_count: Decimal
    remaining_count: Decimal
    initial_count: Decimal
    taker_fill_cost: Decimal
    maker_fill_cost: Decimal
    taker_fees: Decimal
    maker_fees: Decimal
    client_order_id: str
    order_group_id: str | None = None
    self_trade_prevention_type: str | None = None
    created_at: datetime | None = None
    last_updated_at: datetime | None = None
    last_update_reason: str | None = None
    expires_at: datetime | None = None
    subaccount_number: int | None = None
    type: str = "user_order"


@dataclass(frozen=True, slots=True)
class MarketPositionUpdate:
    sid: int
    user_id: str
    market_ticker: str
    position: Decimal
    position_cost: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    position_fee_cost: Decimal
    volume: Decimal
    subaccount: int | None = None
    type: str = "market_position"


@dataclass(frozen=True, slots=True)
class PriceRange:
    start: Decimal
    end: Decimal
    step: Decimal


@dataclass(frozen=True, slots=True)
class MarketLifecycle:
    """``market_lifecycle_v2`` (and ``multivariate_market_lifecycle``: see ``type``)."""

    sid: int
    seq: int
    market_ticker: str
    event_type: str
    exchange_index: int | None = None
    open_ts: datetime | None = None
    close_ts: datetime | None = None
    determination_ts: datetime | None = None
    settled_ts: datetime | None = None
    result: str | None = None
    settlement_value: Decimal | None = None
    is_deactivated: bool | None = None
    price_level_structure: str | None = None
    price_ranges: tuple[PriceRange, ...] = ()
    additional_metadata: Mapping[str, Any] | None = field(default=None, compare=False)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    type: str = "market_lifecycle_v2"


@dataclass(frozen=True, slots=True)
class EventLifecycle:
    sid: int
    seq: int
    event_ticker: str
    exchange_index: int
    title: str
    subtitle: str
    collateral_return_type: str
    series_ticker: str
    strike_date: datetime | None = None
    strike_period: str | None = None
    type: str = "event_lifecycle"


@dataclass(frozen=True, slots=True)
class EventFeeUpdate:
    sid: int
    seq: int
    event_ticker: str
    fee_type_override: str | None
    fee_multiplier_override: Decimal | None
    type: str = "event_fee_update"


@dataclass(frozen=True, slots=True)
class OrderGroupUpdate:
    sid: int
    seq: int
    event_type: str
    order_group_id: str
    ts: datetime
    contracts_limit: Decimal | None = None
    type: str = "order_group_updates"


@dataclass(frozen=True, slots=True)
class CommunicationsMessage:
    """RFQ / quote messages (``rfq_created``, ``quote_accepted`` …): kept as their raw ``msg``."""

    type: str
    sid: int
    seq: int
    msg: Mapping[str, Any] = field(compare=False)


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A message type this client does not model (e.g. reference price feeds). Delivered as-is."""

    type: str
    raw: Mapping[str, Any] = field(compare=False)


@dataclass(frozen=True, slots=True)
class Subscribed:
    id: int | None
    channel: str
    sid: int
    type: str = "subscribed"


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    id: int | None
    sid: int
    seq: int | None
    type: str = "unsubscribed"


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class Ok:
    """Reply to ``update_subscription`` (``market_tickers`` after the update) or ``list_subscriptions``."""

    id: int | None
    sid: int | None
    seq: int | None
    market_tickers: tuple[str, ...] | None = None
    market_ids: tuple[str, ...] | None = None
    subscriptions: tuple[SubscriptionInfo, ...] | None = None
    type: str = "ok"


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    id: int | None
    sid: int | None
    error: WebSocketError = field(compare=False)
    type: str = "error"


Message = (
    OrderbookSnapshot
    | OrderbookDelta
    | Ticker
    | Trade
    | Fill
    | UserOrder
    | MarketPositionUpdate
    | MarketLifecycle
    | EventLifecycle
    | EventFeeUpdate
    | OrderGroupUpdate
    | CommunicationsMessage
    | UnknownMessage
    | Subscribed
    | Unsubscribed
    | Ok
    | ErrorMessage
)


# --- envelope helpers ---------------------------------------------------------------------------------------


def _sid(t: str, frame: Mapping[str, Any]) -> int:
    return f.integer(t, frame, "sid")


def _seq(t: str, frame: Mapping[str, Any]) -> int:
    return f.integer(t, frame, "seq")


def _msg(t: str, frame: Mapping[str, Any]) -> Mapping[str, Any]:
    return f.require_mapping(t, f.get(t, frame, "msg"), "msg")


def _check(t: str, m: Mapping[str, Any], required: tuple[str, ...], legacy: Mapping[str, str]) -> None:
    f.require(t, m, required)
    f.reject_legacy(t, m, legacy)


def _ts_ms(t: str, m: Mapping[str, Any]) -> datetime | None:
    return f.opt_unix_ms(t, m, "ts_ms")


# --- per-type parsers ---------------------------------------------------------------------------------------

_SNAPSHOT_LEGACY = {"yes": _CENTS, "no": _CENTS, "yes_dollars": _INTCOUNT, "no_dollars": _INTCOUNT}


def _orderbook_snapshot(frame: Mapping[str, Any]) -> OrderbookSnapshot:
    t = "orderbook_snapshot"
    sid, seq, m = _sid(t, frame), _seq(t, frame), _msg(t, frame)
    _check(t, m, ("market_ticker", "market_id"), _SNAPSHOT_LEGACY)
    if "yes_dollars_fp" not in m and "no_dollars_fp" not in m:
        # Both sides may legitimately be absent (an empty book); a list under some other name means a rename.
        for key, value in m.items():
            if isinstance(value, list):
                raise ProtocolError(
                    f"{t} has an unrecognised level field {key!r} and no 'yes_dollars_fp'/'no_dollars_fp'",
                    obj=t,
                    field=key,
                )
    return OrderbookSnapshot(
        sid=sid,
        seq=seq,
        market_ticker=f.string(t, m, "market_ticker"),
        market_id=f.string(t, m, "market_id"),
        yes=f.levels(t, m, "yes_dollars_fp", optional=True),
        no=f.levels(t, m, "no_dollars_fp", optional=True),
        command_id=f.opt_integer(t, frame, "id"),
    )


def _orderbook_delta(frame: Mapping[str, Any]) -> OrderbookDelta:
    """Fast path for well-formed deltas; anything unusual goes through the strict parser, which produces the
    same object or the precise ProtocolError."""
    try:
        m = frame["msg"]
        sid, seq = frame["sid"], frame["seq"]
        ticker, market_id, side = m["market_ticker"], m["market_id"], m["side"]
        price, delta = Decimal(m["price_dollars"]), Decimal(m["delta_fp"])
    except (KeyError, TypeError, ArithmeticError):
        return _orderbook_delta_strict(frame)
    ts_ms = m.get("ts_ms")
    if (
        type(sid) is not int
        or type(seq) is not int
        or type(ticker) is not str
        or type(market_id) is not str
        or type(m["price_dollars"]) is not str
        or type(m["delta_fp"]) is not str
        or (side != "yes" and side != "no")
        or (ts_ms is not None and type(ts_ms) is not int)
        or "price" in m
        or "delta" in m
        or "client_order_id" in m
        or "subaccount" in m
        or not price.is_finite()
        or delta.as_tuple().exponent != -2
    ):
        return _orderbook_delta_strict(frame)
    if ts_ms is None and "ts" in m:
        return _orderbook_delta_strict(frame)
    return OrderbookDelta(sid, seq, ticker, market_id, price, delta, side, None, None, ts_ms)


def _orderbook_delta_strict(frame: Mapping[str, Any]) -> OrderbookDelta:
    t = "orderbook_delta"
    sid, seq, m = _sid(t, frame), _seq(t, frame), _msg(t, frame)
    _check(
        t,
        m,
        ("market_ticker", "market_id", "price_dollars", "delta_fp", "side"),
        {"price": _CENTS, "delta": _INTCOUNT},
    )
    side = f.string(t, m, "side")
    if side not in ("yes", "no"):
        raise f.wrong(t, "side", "'yes' or 'no'", side)
    delta = f.dollars(t, m, "delta_fp")  # signed; checked for 2 places below
    if delta.quantize(f.CENT_COUNT) != delta:
        raise f.wrong(t, "delta_fp", "a count with at most 2 decimals", m["delta_fp"])
    ts_ms = f.opt_integer(t, m, "ts_ms")
    if ts_ms is None:
        legacy_ts = f.opt_timestamp(t, m, "ts")
        if legacy_ts is not None:
            ts_ms = (legacy_ts - f.EPOCH) // timedelta(milliseconds=1)
    return OrderbookDelta(
        sid=sid,
        seq=seq,
        market_ticker=f.string(t, m, "market_ticker"),
        market_id=f.string(t, m, "market_id"),
        price=f.dollars(t, m, "price_dollars"),
        delta=delta.quantize(f.CENT_COUNT),
        side=side,
        client_order_id=f.opt_string(t, m, "client_order_id"),
        subaccount=f.opt_integer(t, m, "subaccount"),
        ts_ms=ts_ms,
    )


def _ticker(frame: Mapping[str, Any]) -> Ticker:
    t = "ticker"
    sid, m = _sid(t, frame), _msg(t, frame)
    _check(
        t,
        m,
        (
            "market_ticker",
            "market_id",
            "price_dollars",
            "yes_bid_dollars",
            "yes_ask_dollars",
            "volume_fp",
            "open_interest_fp",
            "yes_bid_size_fp",
            "yes_ask_size_fp",
            "last_trade_size_fp",
            "dollar_volume",
            "dollar_open_interest",
            "ts_ms",
        ),
        {
            "price": _CENTS,
            "yes_bid": _CENTS,
            "yes_ask": _CENTS,
            "volume": _INTCOUNT,
            "open_interest": _INTCOUNT,
        },
    )
    return Ticker(
        sid=sid,
        market_ticker=f.string(t, m, "market_ticker"),
        market_id=f.string(t, m, "market_id"),
        price=f.opt_dollars(t, m, "price_dollars"),
        yes_bid=f.dollars(t, m, "yes_bid_dollars"),
        yes_ask=f.dollars(t, m, "yes_ask_dollars"),
        volume=f.count(t, m, "volume_fp"),
        open_interest=f.count(t, m, "open_interest_fp"),
        dollar_volume=f.integer(t, m, "dollar_volume"),
        dollar_open_interest=f.integer(t, m, "dollar_open_interest"),
        yes_bid_size=f.count(t, m, "yes_bid_size_fp"),
        yes_ask_size=f.count(t, m, "yes_ask_size_fp"),
        last_trade_size=f.count(t, m, "last_trade_size_fp"),
        ts=f.unix_ms(t, m, "ts_ms"),
    )


def _trade(frame: Mapping[str, Any]) -> Trade:
    t = "trade"
    sid, m = _sid(t, frame), _msg(t, frame)
    _check(
        t,
        m,
        (
            "trade_id",
            "market_ticker",
            "yes_price_dollars",
            "no_price_dollars",
            "count_fp",
            "taker_outcome_side",
            "taker_book_side",
            "is_block_trade",
            "ts_ms",
        ),
        {"yes_price": _CENTS, "no_price": _CENTS, "count": _INTCOUNT},
    )
    return Trade(
        sid=sid,
        seq=_seq(t, frame),
        trade_id=f.string(t, m, "trade_id"),
        market_ticker=f.string(t, m, "market_ticker"),
        yes_price=f.dollars(t, m, "yes_price_dollars"),
        no_price=f.dollars(t, m, "no_price_dollars"),
        count=f.count(t, m, "count_fp"),
        taker_outcome_side=f.string(t, m, "taker_outcome_side"),
        taker_book_side=f.string(t, m, "taker_book_side"),
        is_block_trade=f.boolean(t, m, "is_block_trade"),
        ts=f.unix_ms(t, m, "ts_ms"),
    )


def _fill(frame: Mapping[str, Any]) -> Fill:
    t = "fill"
    sid, m = _sid(t, frame), _msg(t, frame)
    _check(
        t,
        m,
        (
            "trade_id",
            "order_id",
            "market_ticker",
            "yes_price_dollars",
            "count_fp",
            "fee_cost",
            "post_position_fp",
            "outcome_side",
            "book_side",
            "exchange_index",
            "is_taker",
            "ts_ms",
        ),
        {"yes_price": _CENTS, "count": _INTCOUNT, "post_position": _INTCOUNT},
    )
    post = f.dollars(t, m, "post_position_fp")  # signed count
    return Fill(
        sid=sid,
        trade_id=f.string(t, m, "trade_id"),
        order_id=f.string(t, m, "order_id"),
        market_ticker=f.string(t, m, "market_ticker"),
        exchange_index=f.integer(t, m, "exchange_index"),
        is_taker=f.boolean(t, m, "is_taker"),
        yes_price=f.dollars(t, m, "yes_price_dollars"),
        count=f.count(t, m, "count_fp"),
        fee_cost=f.dollars(t, m, "fee_cost"),
        outcome_side=f.string(t, m, "outcome_side"),
        book_side=f.string(t, m, "book_side"),
        post_position=post.quantize(f.CENT_COUNT),
        ts=f.unix_ms(t, m, "ts_ms"),
        client_order_id=f.opt_string(t, m, "client_order_id"),
        subaccount=f.opt_integer(t, m, "subaccount"),
    )


_ORDER_LEGACY = {
    "yes_price": _CENTS,
    "no_price": _CENTS,
    "fill_count": _INTCOUNT,
    "remaining_count": _INTCOUNT,
    "initial_count": _INTCOUNT,
    "taker_fees": _CENTS,
    "maker_fees": _CENTS,
    "taker_fill_cost": _CENTS,
    "maker_fill_cost": _CENTS,
}


def _user_order(frame: Mapping[str, Any]) -> UserOrder:
    t = "user_order"
    sid, m = _sid(t, frame), _msg(t, frame)
    _check(
        t,
        m,
        (
            "order_id",
            "user_id",
            "ticker",
            "status",
            "yes_price_dollars",
            "fill_count_fp",
            "remaining_count_fp",
            "initial_count_fp",
            "taker_fill_cost_dollars",
            "maker_fill_cost_dollars",
            "taker_fees_dollars",
            "maker_fees_dollars",
            "outcome_side",
            "book_side",
            "exchange_index",
            "client_order_id",
        ),
        _ORDER_LEGACY,
    )
    return UserOrder(
        sid=sid,
        order_id=f.string(t, m, "order_id"),
        user_id=f.string(t, m, "user_id"),
        ticker=f.string(t, m, "ticker"),
        exchange_index=f.integer(t, m, "exchange_index"),
        status=f.string(t, m, "status"),
        outcome_side=f.string(t, m, "outcome_side"),
        book_side=f.string(t, m, "book_side"),
        yes_price=f.dollars(t, m, "yes_price_dollars"),
        fill_count=f.count(t, m, "fill_count_fp"),
        remaining_count=f.count(t, m, "remaining_count_fp"),
        initial_count=f.count(t, m, "initial_count_fp"),
        taker_fill_cost=f.dollars(t, m, "taker_fill_cost_dollars"),
        maker_fill_cost=f.dollars(t, m, "maker_fill_cost_dollars"),
        taker_fees=f.dollars(t, m, "taker_fees_dollars"),
        maker_fees=f.dollars(t, m, "maker_fees_dollars"),
        client_order_id=f.string(t, m, "client_order_id"),
        order_group_id=f.opt_string(t, m, "order_group_id"),
        self_trade_prevention_type=f.opt_string(t, m, "self_trade_prevention_type"),
        created_at=f.opt_unix_ms(t, m, "created_ts_ms") or f.opt_timestamp(t, m, "created_time"),
        last_updated_at=f.opt_unix_ms(t, m, "last_updated_ts_ms")
        or f.opt_timestamp(t, m, "last_update_time"),
        last_update_reason=f.opt_string(t, m, "last_update_reason"),
        expires_at=f.opt_unix_ms(t, m, "expiration_ts_ms") or f.opt_timestamp(t, m, "expiration_time"),
        subaccount_number=f.opt_integer(t, m, "subaccount_number"),
    )


def _market_position(frame: Mapping[str, Any]) -> MarketPositionUpdate:
    t = "market_position"
    sid, m = _sid(t, frame), _msg(t, frame)
    _check(
        t,
        m,
        (
            "user_id",
            "market_ticker",
            "position_fp",
            "position_cost_dollars",
            "realized_pnl_dollars",
            "fees_paid_dollars",
            "position_fee_cost_dollars",
            "volume_fp",
        ),
        {
            "position": _INTCOUNT,
            "position_cost": "centi-cents, removed 2026-04-02",
            "realized_pnl": "centi-cents, removed 2026-04-02",
            "fees_paid": "centi-cents, removed 2026-04-02",
            "position_fee_cost": "centi-cents, removed 2026-04-02",
            "volume": _INTCOUNT,
        },
    )
    position = f.dollars(t, m, "position_fp")  # signed count
    return MarketPositionUpdate(
        sid=sid,
        user_id=f.string(t, m, "user_id"),
        market_ticker=f.string(t, m, "market_ticker"),
        position=position.quantize(f.CENT_COUNT),
        position_cost=f.dollars(t, m, "position_cost_dollars"),
        realized_pnl=f.dollars(t, m, "realized_pnl_dollars"),
        fees_paid=f.dollars(t, m, "fees_paid_dollars"),
        position_fee_cost=f.dollars(t, m, "position_fee_cost_dollars"),
        volume=f.count(t, m, "volume_fp"),
        subaccount=f.opt_integer(t, m, "subaccount"),
    )


def parse_price_ranges(obj: str, value: Any) -> tuple[PriceRange, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise f.wrong(obj, "price_ranges", "a list", value)
    out = []
    for i, r in enumerate(value):
        name = f"{obj}.price_ranges[{i}]"
        r = f.require_mapping(name, r)
        out.append(
            PriceRange(f.dollars(name, r, "start"), f.dollars(name, r, "end"), f.dollars(name, r, "step"))
        )
    return tuple(out)


_LIFECYCLE_KNOWN = {
    "market_ticker",
    "event_type",
    "exchange_index",
    "open_ts",
    "close_ts",
    "determination_ts",
    "settled_ts",
    "result",
    "settlement_value",
    "is_deactivated",
    "price_level_structure",
    "price_ranges",
    "additional_metadata",
}


def _market_lifecycle(frame: Mapping[str, Any]) -> MarketLifecycle:
    t = str(frame.get("type"))
    sid, seq, m = _sid(t, frame), _seq(t, frame), _msg(t, frame)
    _check(t, m, ("market_ticker", "event_type"), {})
    meta = m.get("additional_metadata")
    if meta is not None:
        f.require_mapping(t, meta, "additional_metadata")
    result = m.get("result")
    return MarketLifecycle(
        sid=sid,
        seq=seq,
        market_ticker=f.string(t, m, "market_ticker"),
        event_type=f.string(t, m, "event_type"),
        exchange_index=f.opt_integer(t, m, "exchange_index"),
        open_ts=f.opt_unix_s(t, m, "open_ts"),
        close_ts=f.opt_unix_s(t, m, "close_ts"),
        determination_ts=f.opt_unix_s(t, m, "determination_ts"),
        settled_ts=f.opt_unix_s(t, m, "settled_ts"),
        result=result if isinstance(result, str) else None,
        settlement_value=f.opt_dollars(t, m, "settlement_value"),
        is_deactivated=f.opt_boolean(t, m, "is_deactivated"),
        price_level_structure=f.opt_string(t, m, "price_level_structure"),
        price_ranges=parse_price_ranges(t, m.get("price_ranges")),
        additional_metadata=meta,
        extra={k: v for k, v in m.items() if k not in _LIFECYCLE_KNOWN},
        type=t,
    )


def _event_lifecycle(frame: Mapping[str, Any]) -> EventLifecycle:
    t = "event_lifecycle"
    sid, seq, m = _sid(t, frame), _seq(t, frame), _msg(t, frame)
    _check(
        t,
        m,
        ("event_ticker", "exchange_index", "title", "subtitle", "collateral_return_type", "series_ticker"),
        {},
    )
    sp = m.get("strike_period")
    return EventLifecycle(
        sid=sid,
        seq=seq,
        event_ticker=f.string(t, m, "event_ticker"),
        exchange_index=f.integer(t, m, "exchange_index"),
        title=f.string(t, m, "title"),
        subtitle=f.string(t, m, "subtitle"),
        collateral_return_type=f.string(t, m, "collateral_return_type"),
        series_ticker=f.string(t, m, "series_ticker"),
        strike_date=f.opt_unix_s(t, m, "strike_date"),
        strike_period=sp if isinstance(sp, str) else None,
    )


def _event_fee_update(frame: Mapping[str, Any]) -> EventFeeUpdate:
    t = "event_fee_update"
    sid, seq, m = _sid(t, frame), _seq(t, frame), _msg(t, frame)
    _check(t, m, ("event_ticker", "fee_type_override", "fee_multiplier_override"), {})
    mult = m["fee_multiplier_override"]
    if mult is not None and (isinstance(mult, bool) or not isinstance(mult, (int, float, str))):
        raise f.wrong(t, "fee_multiplier_override", "a number or null", mult)
    return EventFeeUpdate(
        sid=sid,
        seq=seq,
        event_ticker=f.string(t, m, "event_ticker"),
        fee_type_override=f.nullable_string(t, m, "fee_type_override"),
        # A JSON number: converted via str() so no binary float leaks into the Decimal.
        fee_multiplier_override=None if mult is None else Decimal(str(mult)),
    )


def _order_group(frame: Mapping[str, Any]) -> OrderGroupUpdate:
    t = "order_group_updates"
    sid, seq, m = _sid(t, frame), _seq(t, frame), _msg(t, frame)
    _check(t, m, ("event_type", "order_group_id", "ts_ms"), {})
    return OrderGroupUpdate(
        sid=sid,
        seq=seq,
        event_type=f.string(t, m, "event_type"),
        order_group_id=f.string(t, m, "order_group_id"),
        ts=f.unix_ms(t, m, "ts_ms"),
        contracts_limit=f.opt_count(t, m, "contracts_limit_fp"),
    )


def _communications(frame: Mapping[str, Any]) -> CommunicationsMessage:
    t = str(frame["type"])
    return CommunicationsMessage(type=t, sid=_sid(t, frame), seq=_seq(t, frame), msg=_msg(t, frame))


def _subscribed(frame: Mapping[str, Any]) -> Subscribed:
    t = "subscribed"
    m = _msg(t, frame)
    return Subscribed(
        id=f.opt_integer(t, frame, "id"), channel=f.string(t, m, "channel"), sid=f.integer(t, m, "sid")
    )


def _unsubscribed(frame: Mapping[str, Any]) -> Unsubscribed:
    t = "unsubscribed"
    return Unsubscribed(
        id=f.opt_integer(t, frame, "id"), sid=_sid(t, frame), seq=f.opt_integer(t, frame, "seq")
    )


def _str_tuple(t: str, m: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = m.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise f.wrong(t, key, "a list of strings", value)
    return tuple(value)


def _ok(frame: Mapping[str, Any]) -> Ok:
    t = "ok"
    msg = frame.get("msg")
    cid, sid, seq = (
        f.opt_integer(t, frame, "id"),
        f.opt_integer(t, frame, "sid"),
        f.opt_integer(t, frame, "seq"),
    )
    if isinstance(msg, list):  # list_subscriptions
        subs = []
        for i, item in enumerate(msg):
            name = f"ok.msg[{i}]"
            item = f.require_mapping(name, item)
            subs.append(
                SubscriptionInfo(channel=f.string(name, item, "channel"), sid=f.integer(name, item, "sid"))
            )
        return Ok(id=cid, sid=sid, seq=seq, subscriptions=tuple(subs))
    m = f.require_mapping(t, msg, "msg") if msg is not None else {}
    return Ok(
        id=cid,
        sid=sid,
        seq=seq,
        market_tickers=_str_tuple(t, m, "market_tickers"),
        market_ids=_str_tuple(t, m, "market_ids"),
    )


def _error(frame: Mapping[str, Any]) -> ErrorMessage:
    err = error_from_ws(frame)
    return ErrorMessage(id=err.command_id, sid=err.sid, error=err)


_PARSERS: dict[str, Any] = {
    "orderbook_snapshot": _orderbook_snapshot,
    "orderbook_delta": _orderbook_delta,
    "ticker": _ticker,
    "trade": _trade,
    "fill": _fill,
    "user_order": _user_order,
    "market_position": _market_position,
    "market_lifecycle_v2": _market_lifecycle,
    "multivariate_market_lifecycle": _market_lifecycle,
    "event_lifecycle": _event_lifecycle,
    "event_fee_update": _event_fee_update,
    "order_group_updates": _order_group,
    "rfq_created": _communications,
    "rfq_deleted": _communications,
    "quote_created": _communications,
    "quote_accepted": _communications,
    "quote_executed": _communications,
    "subscribed": _subscribed,
    "unsubscribed": _unsubscribed,
    "ok": _ok,
    "error": _error,
}

SEQUENCED_TYPES = frozenset(
    {
        "orderbook_snapshot",
        "orderbook_delta",
        "trade",
        "market_lifecycle_v2",
        "multivariate_market_lifecycle",
        "event_lifecycle",
        "event_fee_update",
        "order_group_updates",
        "rfq_created",
        "rfq_deleted",
        "quote_created",
        "quote_accepted",
        "quote_executed",
    }
)


def parse_message(frame: Mapping[str, Any]) -> Message:
    """Parse one decoded WS frame into its typed message. Raises ``ProtocolError`` on a malformed/legacy frame."""
    if not isinstance(frame, Mapping):
        raise f.wrong("message", "<frame>", "a JSON object", frame)
    t = frame.get("type")
    if not isinstance(t, str):
        raise f.missing("message", "type")
    if t in REMOVED_TYPES:
        raise ProtocolError(
            f"message type {t!r} is no longer part of the protocol: {REMOVED_TYPES[t]}", obj=t, field="type"
        )
    parser = _PARSERS.get(t)
    if parser is None:
        return UnknownMessage(type=t, raw=frame)
    return parser(frame)
