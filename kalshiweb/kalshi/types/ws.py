"""Kalshi's WebSocket messages (protocol §7.3–7.6), declared once.

Each data message is declared as its ``msg`` body (``OrderbookDeltaBody``: exactly the keys on the wire, which
the simulator builds and encodes) and, for the client, a subclass that adds the envelope's ``sid``/``seq``
(``OrderbookDelta``: what ``decode_message``/``parse_message`` return and the app reads). Python attribute
names drop the wire suffixes (``price`` is ``price_dollars`` on the wire, ``delta`` is ``delta_fp``).

Required fields follow the newest AsyncAPI (deprecated fields such as ``side``, ``action``, ``ts`` are read when
present, never required). Fields Kalshi removed in 2026 (integer cents, integer counts) are rejected loudly:
a legacy-shaped message raises ``ProtocolError`` naming the missing ``_fp``/``_dollars`` field, or the legacy
field it still carries, instead of parsing to zeros.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, UnsetType, field

from ..errors import WebSocketError
from .scalars import (
    EPOCH,
    Count,
    Dollars,
    Number,
    OptCount,
    OptDollars,
    SignedCount,
    blank_to_none,
    from_unix_ms,
    from_unix_s,
    parse_rfc3339,
)

Levels = tuple[tuple[Dollars, Count], ...]

# Removed message types: receiving one means the peer speaks an old protocol version.
REMOVED_TYPES = {
    "multivariate_lookup": "the 'multivariate' channel was removed on 2026-08-06",
    "ticker_v2": "the 'ticker_v2' channel was removed on 2026-02-12",
}

_CENTS = "integer cents, removed 2026-03-12"
_INTCOUNT = "integer count, removed 2026-03-12"
_CENTICENTS = "centi-cents, removed 2026-04-02"


class Body(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every ``msg`` body. ``LEGACY``: (attribute, wire name, why) of removed fields."""

    LEGACY: ClassVar[tuple[tuple[str, str, str], ...]] = ()


def _legacy(name: str) -> Any:
    return field(name=name, default=UNSET)


# --- market data ----------------------------------------------------------------------------------------------


class OrderbookSnapshotBody(Body, kw_only=True):
    market_ticker: str
    market_id: str
    yes: Levels = field(name="yes_dollars_fp", default=())  # YES bids, ascending by price
    no: Levels = field(name="no_dollars_fp", default=())  # NO bids, ascending (NO-leg prices by default)
    legacy_yes: Any = _legacy("yes")
    legacy_no: Any = _legacy("no")
    legacy_yes_dollars: Any = _legacy("yes_dollars")
    legacy_no_dollars: Any = _legacy("no_dollars")
    LEGACY = (
        ("legacy_yes", "yes", _CENTS),
        ("legacy_no", "no", _CENTS),
        ("legacy_yes_dollars", "yes_dollars", _INTCOUNT),
        ("legacy_no_dollars", "no_dollars", _INTCOUNT),
    )


class OrderbookSnapshot(OrderbookSnapshotBody, kw_only=True):
    sid: int = 0
    seq: int = 0
    command_id: int | None = None
    type: str = "orderbook_snapshot"


class OrderbookDeltaBody(Body, kw_only=True):
    """The hot message (thousands a second)."""

    market_ticker: str
    market_id: str
    price: Dollars = field(name="price_dollars")
    delta: SignedCount = field(name="delta_fp")  # signed change of the resting size, 2 places
    side: Literal["yes", "no"]
    client_order_id: str | None = None
    subaccount: int | None = None
    ts_ms: int | None = None
    legacy_price: Any = _legacy("price")
    legacy_delta: Any = _legacy("delta")
    legacy_ts: str | UnsetType = _legacy("ts")  # read (when ts_ms is absent), never required
    LEGACY = (("legacy_price", "price", _CENTS), ("legacy_delta", "delta", _INTCOUNT))

    @property
    def ts(self) -> datetime | None:
        return None if self.ts_ms is None else from_unix_ms(self.ts_ms)


class OrderbookDelta(OrderbookDeltaBody, kw_only=True):
    sid: int = 0
    seq: int = 0
    type: str = "orderbook_delta"


class TickerBody(Body, kw_only=True):
    market_ticker: str
    market_id: str
    price: OptDollars | None = field(
        name="price_dollars"
    )  # last trade price; None when the exchange sends ""
    yes_bid: Dollars = field(name="yes_bid_dollars")
    yes_ask: Dollars = field(name="yes_ask_dollars")
    volume: Count = field(name="volume_fp")
    open_interest: Count = field(name="open_interest_fp")
    yes_bid_size: Count = field(name="yes_bid_size_fp")
    yes_ask_size: Count = field(name="yes_ask_size_fp")
    last_trade_size: Count = field(name="last_trade_size_fp")
    dollar_volume: int
    dollar_open_interest: int
    ts_ms: int
    ts_s: int | UnsetType = field(name="ts", default=UNSET)  # deprecated: seconds
    time: str | UnsetType = UNSET  # deprecated: RFC 3339
    legacy_price: Any = _legacy("price")
    legacy_yes_bid: Any = _legacy("yes_bid")
    legacy_yes_ask: Any = _legacy("yes_ask")
    legacy_volume: Any = _legacy("volume")
    legacy_open_interest: Any = _legacy("open_interest")
    LEGACY = (
        ("legacy_price", "price", _CENTS),
        ("legacy_yes_bid", "yes_bid", _CENTS),
        ("legacy_yes_ask", "yes_ask", _CENTS),
        ("legacy_volume", "volume", _INTCOUNT),
        ("legacy_open_interest", "open_interest", _INTCOUNT),
    )

    def __post_init__(self) -> None:
        blank_to_none(self, ("price",))

    @property
    def ts(self) -> datetime:
        return from_unix_ms(self.ts_ms)


class Ticker(TickerBody, kw_only=True):
    sid: int = 0
    seq: int | None = None
    type: str = "ticker"


class TradeBody(Body, kw_only=True):
    trade_id: str
    market_ticker: str
    yes_price: Dollars = field(name="yes_price_dollars")
    no_price: Dollars = field(name="no_price_dollars")
    count: Count = field(name="count_fp")
    taker_outcome_side: str
    taker_book_side: str
    is_block_trade: bool
    ts_ms: int
    taker_side: str | UnsetType = UNSET  # deprecated: taker_outcome_side
    ts_s: int | UnsetType = field(name="ts", default=UNSET)  # deprecated: seconds
    legacy_yes_price: Any = _legacy("yes_price")
    legacy_no_price: Any = _legacy("no_price")
    legacy_count: Any = _legacy("count")
    LEGACY = (
        ("legacy_yes_price", "yes_price", _CENTS),
        ("legacy_no_price", "no_price", _CENTS),
        ("legacy_count", "count", _INTCOUNT),
    )


class Trade(TradeBody, kw_only=True):
    """``ts`` is an attribute here (the app builds trades with one); the wire's ``ts_ms`` stays beside it."""

    sid: int = 0
    seq: int = 0
    ts_ms: int | None = None  # type: ignore[assignment]  # required on the wire: _finish checks it
    ts: datetime = field(name="__ts", default=EPOCH)  # never a wire key
    type: str = "trade"

    def __post_init__(self) -> None:
        if self.ts_ms is not None and self.ts is EPOCH:
            self.ts = from_unix_ms(self.ts_ms)


# --- private channels -----------------------------------------------------------------------------------------


class FillBody(Body, kw_only=True):
    trade_id: str
    order_id: str
    market_ticker: str
    yes_price: Dollars = field(name="yes_price_dollars")
    count: Count = field(name="count_fp")
    fee_cost: Dollars
    post_position: SignedCount = field(name="post_position_fp")
    outcome_side: str
    book_side: str
    exchange_index: int
    is_taker: bool
    ts_ms: int
    client_order_id: str | None = None
    subaccount: int | None = None
    side: str | UnsetType = UNSET  # deprecated: outcome_side
    action: str | UnsetType = UNSET  # deprecated: always "buy" in V2
    purchased_side: str | UnsetType = UNSET  # deprecated: outcome_side
    ts_s: int | UnsetType = field(name="ts", default=UNSET)  # deprecated: seconds
    legacy_yes_price: Any = _legacy("yes_price")
    legacy_count: Any = _legacy("count")
    legacy_post_position: Any = _legacy("post_position")
    LEGACY = (
        ("legacy_yes_price", "yes_price", _CENTS),
        ("legacy_count", "count", _INTCOUNT),
        ("legacy_post_position", "post_position", _INTCOUNT),
    )

    @property
    def ts(self) -> datetime:
        return from_unix_ms(self.ts_ms)


class Fill(FillBody, kw_only=True):
    sid: int = 0
    seq: int | None = None
    type: str = "fill"


class UserOrderBody(Body, kw_only=True):
    order_id: str
    user_id: str
    ticker: str
    status: str
    yes_price: Dollars = field(name="yes_price_dollars")
    fill_count: Count = field(name="fill_count_fp")
    remaining_count: Count = field(name="remaining_count_fp")
    initial_count: Count = field(name="initial_count_fp")
    taker_fill_cost: Dollars = field(name="taker_fill_cost_dollars")
    maker_fill_cost: Dollars = field(name="maker_fill_cost_dollars")
    taker_fees: Dollars = field(name="taker_fees_dollars")
    maker_fees: Dollars = field(name="maker_fees_dollars")
    outcome_side: str
    book_side: str
    exchange_index: int
    client_order_id: str
    order_group_id: str | None = None
    self_trade_prevention_type: str | None = None
    created_ts_ms: int | None = None
    last_updated_ts_ms: int | None = None
    expiration_ts_ms: int | None = None
    last_update_reason: str | None = None
    subaccount_number: int | None = None
    side: str | UnsetType = UNSET  # deprecated: outcome_side
    is_yes: bool | UnsetType = UNSET  # deprecated: outcome_side == "yes"
    # Deprecated RFC 3339 twins of the *_ts_ms fields: read when the _ts_ms one is absent.
    legacy_created_time: str | UnsetType | None = _legacy("created_time")
    legacy_last_update_time: str | UnsetType | None = _legacy("last_update_time")
    legacy_expiration_time: str | UnsetType | None = _legacy("expiration_time")
    legacy_yes_price: Any = _legacy("yes_price")
    legacy_no_price: Any = _legacy("no_price")
    legacy_fill_count: Any = _legacy("fill_count")
    legacy_remaining_count: Any = _legacy("remaining_count")
    legacy_initial_count: Any = _legacy("initial_count")
    legacy_taker_fees: Any = _legacy("taker_fees")
    legacy_maker_fees: Any = _legacy("maker_fees")
    legacy_taker_fill_cost: Any = _legacy("taker_fill_cost")
    legacy_maker_fill_cost: Any = _legacy("maker_fill_cost")
    LEGACY = (
        ("legacy_yes_price", "yes_price", _CENTS),
        ("legacy_no_price", "no_price", _CENTS),
        ("legacy_fill_count", "fill_count", _INTCOUNT),
        ("legacy_remaining_count", "remaining_count", _INTCOUNT),
        ("legacy_initial_count", "initial_count", _INTCOUNT),
        ("legacy_taker_fees", "taker_fees", _CENTS),
        ("legacy_maker_fees", "maker_fees", _CENTS),
        ("legacy_taker_fill_cost", "taker_fill_cost", _CENTS),
        ("legacy_maker_fill_cost", "maker_fill_cost", _CENTS),
    )

    def _time(self, ms: int | None, legacy: str | UnsetType | None) -> datetime | None:
        if ms is not None:
            return from_unix_ms(ms)
        if isinstance(legacy, str) and legacy:
            return parse_rfc3339(legacy)
        return None

    @property
    def created_at(self) -> datetime | None:
        return self._time(self.created_ts_ms, self.legacy_created_time)

    @property
    def last_updated_at(self) -> datetime | None:
        return self._time(self.last_updated_ts_ms, self.legacy_last_update_time)

    @property
    def expires_at(self) -> datetime | None:
        return self._time(self.expiration_ts_ms, self.legacy_expiration_time)


class UserOrder(UserOrderBody, kw_only=True):
    sid: int = 0
    seq: int | None = None
    type: str = "user_order"


class MarketPositionBody(Body, kw_only=True):
    user_id: str
    market_ticker: str
    position: SignedCount = field(name="position_fp")
    position_cost: Dollars = field(name="position_cost_dollars")
    realized_pnl: Dollars = field(name="realized_pnl_dollars")
    fees_paid: Dollars = field(name="fees_paid_dollars")
    position_fee_cost: Dollars = field(name="position_fee_cost_dollars")
    volume: Count = field(name="volume_fp")
    subaccount: int | None = None
    legacy_position: Any = _legacy("position")
    legacy_position_cost: Any = _legacy("position_cost")
    legacy_realized_pnl: Any = _legacy("realized_pnl")
    legacy_fees_paid: Any = _legacy("fees_paid")
    legacy_position_fee_cost: Any = _legacy("position_fee_cost")
    legacy_volume: Any = _legacy("volume")
    LEGACY = (
        ("legacy_position", "position", _INTCOUNT),
        ("legacy_position_cost", "position_cost", _CENTICENTS),
        ("legacy_realized_pnl", "realized_pnl", _CENTICENTS),
        ("legacy_fees_paid", "fees_paid", _CENTICENTS),
        ("legacy_position_fee_cost", "position_fee_cost", _CENTICENTS),
        ("legacy_volume", "volume", _INTCOUNT),
    )


class MarketPositionUpdate(MarketPositionBody, kw_only=True):
    sid: int = 0
    seq: int | None = None
    type: str = "market_position"


# --- lifecycle and the rest -----------------------------------------------------------------------------------


class PriceRange(msgspec.Struct, frozen=True, kw_only=True):
    start: Dollars
    end: Dollars
    step: Dollars


if TYPE_CHECKING:
    PriceRanges = tuple[PriceRange, ...]
else:
    PriceRanges = tuple[PriceRange, ...] | None  # null reads as (): see the __post_init__ of the users


class MarketLifecycleBody(Body, kw_only=True):
    """``market_lifecycle_v2`` (and ``multivariate_market_lifecycle``: see ``type``)."""

    market_ticker: str
    event_type: str
    exchange_index: int | None = None
    open_unix: int | None = field(name="open_ts", default=None)
    close_unix: int | None = field(name="close_ts", default=None)
    determination_unix: int | None = field(name="determination_ts", default=None)
    settled_unix: int | None = field(name="settled_ts", default=None)
    result: str | None = None
    settlement_value: OptDollars | None = None
    is_deactivated: bool | None = None
    price_level_structure: str | None = None
    price_ranges: PriceRanges = ()
    additional_metadata: dict[str, Any] | None = None
    # A multivariate lifecycle message also names the event and its selected markets.
    event_ticker: str | None = None
    selected_markets: list[Any] | None = None

    def __post_init__(self) -> None:
        blank_to_none(self, ("settlement_value",))
        if self.price_ranges is None:
            self.price_ranges = ()


class MarketLifecycle(MarketLifecycleBody, kw_only=True):
    sid: int = 0
    seq: int = 0
    type: str = "market_lifecycle_v2"

    @property
    def open_ts(self) -> datetime | None:
        return None if self.open_unix is None else from_unix_s(self.open_unix)

    @property
    def close_ts(self) -> datetime | None:
        return None if self.close_unix is None else from_unix_s(self.close_unix)

    @property
    def determination_ts(self) -> datetime | None:
        return None if self.determination_unix is None else from_unix_s(self.determination_unix)

    @property
    def settled_ts(self) -> datetime | None:
        return None if self.settled_unix is None else from_unix_s(self.settled_unix)


class EventLifecycleBody(Body, kw_only=True):
    event_ticker: str
    exchange_index: int
    title: str
    subtitle: str
    collateral_return_type: str
    series_ticker: str
    strike_date_ts: int | None = field(name="strike_date", default=None)
    strike_period: str | None = None

    @property
    def strike_date(self) -> datetime | None:
        return None if self.strike_date_ts is None else from_unix_s(self.strike_date_ts)


class EventLifecycle(EventLifecycleBody, kw_only=True):
    sid: int = 0
    seq: int = 0
    type: str = "event_lifecycle"


class EventFeeUpdateBody(Body, kw_only=True, omit_defaults=False):
    event_ticker: str
    fee_type_override: str | None
    fee_multiplier_override: Number | None  # a JSON number, converted through str()


class EventFeeUpdate(EventFeeUpdateBody, kw_only=True):
    sid: int = 0
    seq: int = 0
    type: str = "event_fee_update"


class OrderGroupUpdateBody(Body, kw_only=True):
    event_type: str
    order_group_id: str
    ts_ms: int
    contracts_limit: OptCount | None = field(name="contracts_limit_fp", default=None)

    def __post_init__(self) -> None:
        blank_to_none(self, ("contracts_limit",))

    @property
    def ts(self) -> datetime:
        return from_unix_ms(self.ts_ms)


class OrderGroupUpdate(OrderGroupUpdateBody, kw_only=True):
    sid: int = 0
    seq: int = 0
    type: str = "order_group_updates"


class CommunicationsMessage(msgspec.Struct, kw_only=True):
    """RFQ / quote messages (``rfq_created``, ``quote_accepted`` …): kept as their raw ``msg``."""

    type: str
    sid: int
    seq: int
    msg: dict[str, Any]


class UnknownMessage(msgspec.Struct, kw_only=True):
    """A message type this client does not model (e.g. reference price feeds). Delivered as-is."""

    type: str
    raw: Mapping[str, Any]


# --- command replies ------------------------------------------------------------------------------------------


class SubscriptionInfo(msgspec.Struct, frozen=True, kw_only=True):
    channel: str
    sid: int


class Subscribed(msgspec.Struct, kw_only=True):
    id: int | None
    channel: str
    sid: int
    type: str = "subscribed"


class Unsubscribed(msgspec.Struct, kw_only=True):
    id: int | None
    sid: int
    seq: int | None
    type: str = "unsubscribed"


class Ok(msgspec.Struct, kw_only=True):
    """Reply to ``update_subscription`` (``market_tickers`` after the update) or ``list_subscriptions``."""

    id: int | None
    sid: int | None
    seq: int | None
    market_tickers: tuple[str, ...] | None = None
    market_ids: tuple[str, ...] | None = None
    subscriptions: tuple[SubscriptionInfo, ...] | None = None
    type: str = "ok"


class ErrorMessage(msgspec.Struct, kw_only=True):
    id: int | None
    sid: int | None
    error: WebSocketError
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

__all__ = [
    "REMOVED_TYPES",
    "SEQUENCED_TYPES",
    "Body",
    "CommunicationsMessage",
    "ErrorMessage",
    "EventFeeUpdate",
    "EventLifecycle",
    "Fill",
    "Levels",
    "MarketLifecycle",
    "MarketPositionUpdate",
    "Message",
    "Ok",
    "OrderGroupUpdate",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "PriceRange",
    "Subscribed",
    "SubscriptionInfo",
    "Ticker",
    "Trade",
    "UnknownMessage",
    "Unsubscribed",
    "UserOrder",
]
