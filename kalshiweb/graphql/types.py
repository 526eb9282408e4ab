"""The API's types, each built from the desk's own records (orders, fills, markets, the portfolio view)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from trading.models import Fill, Order


@strawberry.enum(description="The outcome: YES or NO.")
class Side(Enum):
    YES = "yes"
    NO = "no"


@strawberry.enum
class Action(Enum):
    BUY = "buy"
    SELL = "sell"


@strawberry.enum
class TimeInForce(Enum):
    GTC = "gtc"
    GTT = "gtt"
    IOC = "ioc"
    FOK = "fok"


# The words the desk shows for an order (the status badge), and what each means in the database.
STATUS_WORDS = (
    "sending",
    "resting",
    "partially_filled",
    "canceling",
    "filled",
    "canceled",
    "rejected",
    "reconciling",
    "expired",
)


def desk_status(order: Order) -> str:
    S = Order.Status
    if order.status in (S.NEW, S.SUBMITTING):
        return "sending"
    if order.status == S.RESTING:
        if order.cancel_requested:
            return "canceling"
        return "partially_filled" if order.fill_count > 0 else "resting"
    if order.status == S.UNKNOWN:
        return "canceling" if order.cancel_requested else "reconciling"
    words: dict[str, str] = {
        S.EXECUTED: "filled",
        S.CANCELED: "canceled",
        S.REJECTED: "rejected",
        S.EXPIRED: "expired",
    }
    return words.get(str(order.status), str(order.status))


def status_filter(word: str) -> dict[str, Any]:
    """The queryset filter of a desk status word (the `orders(status:)` argument)."""
    S = Order.Status
    filters: dict[str, dict[str, Any]] = {
        "sending": {"status__in": [S.NEW, S.SUBMITTING]},
        "resting": {"status": S.RESTING, "fill_count": 0, "cancel_requested": False},
        "partially_filled": {"status": S.RESTING, "fill_count__gt": 0, "cancel_requested": False},
        "canceling": {"status__in": [S.RESTING, S.UNKNOWN], "cancel_requested": True},
        "filled": {"status": S.EXECUTED},
        "canceled": {"status": S.CANCELED},
        "rejected": {"status": S.REJECTED},
        "reconciling": {"status": S.UNKNOWN, "cancel_requested": False},
        "expired": {"status": S.EXPIRED},
        "open": {"status__in": list(Order.OPEN_STATUSES)},
    }
    return filters[word]


@strawberry.type(name="Order", description="One of the trader's orders, as the desk's order row shows it.")
class OrderType:
    id: strawberry.ID
    market_id: str
    side: Side
    action: Action
    quantity: Decimal
    price: Decimal = strawberry.field(description="Limit price in dollars, in the chosen side's leg.")
    status: str = strawberry.field(description="The desk's word: " + ", ".join(STATUS_WORDS) + ".")
    filled_quantity: Decimal
    remaining_quantity: Decimal
    average_fill_price: Decimal | None
    fees: Decimal
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    expires_at: datetime | None
    amending: bool
    client_order_id: str
    exchange_order_id: str | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, o: Order) -> OrderType:
        return cls(
            id=strawberry.ID(str(o.pk)),
            market_id=o.ticker,
            side=Side(o.outcome),
            action=Action(o.action),
            quantity=o.count,
            price=o.price,
            status=desk_status(o),
            filled_quantity=o.fill_count,
            remaining_quantity=o.remaining_count,
            average_fill_price=o.average_fill_price,
            fees=o.fees,
            time_in_force=TimeInForce(o.time_in_force),
            post_only=o.post_only,
            reduce_only=o.reduce_only,
            expires_at=o.expiration_time,
            amending=o.amending,
            client_order_id=str(o.client_order_id),
            exchange_order_id=o.exchange_order_id,
            error_code=o.error_code or None,
            error_message=o.error_message or None,
            created_at=o.created_at,
            updated_at=o.updated_at,
        )


@strawberry.type(name="Fill")
class FillType:
    id: strawberry.ID
    fill_id: str
    order_id: strawberry.ID | None
    market_id: str
    side: Side
    action: str
    quantity: Decimal
    price: Decimal = strawberry.field(description="Price in dollars in the traded side's leg.")
    yes_price: Decimal
    fee: Decimal
    is_taker: bool
    created_at: datetime

    @classmethod
    def of(cls, f: Fill) -> FillType:
        return cls(
            id=strawberry.ID(str(f.pk)),
            fill_id=f.fill_id,
            order_id=strawberry.ID(str(f.order_id)) if f.order_id else None,
            market_id=f.ticker,
            side=Side(f.outcome_side) if f.outcome_side in ("yes", "no") else Side.YES,
            action=f.action,
            quantity=f.count,
            price=f.price,
            yes_price=f.yes_price,
            fee=f.fee,
            is_taker=f.is_taker,
            created_at=f.created_time,
        )


@strawberry.type
class Quote:
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    last_price: Decimal | None
    yes_bid_size: Decimal | None
    yes_ask_size: Decimal | None


@strawberry.type
class BookLevel:
    price: Decimal
    size: Decimal
    total: Decimal


@strawberry.type(
    description="The YES ladder: asks (from NO bids) and bids, best first, as the market page shows."
)
class Book:
    bids: list[BookLevel]
    asks: list[BookLevel]
    spread: Decimal | None
    stale: bool


@strawberry.type(name="Market")
class MarketType:
    id: str = strawberry.field(description="The Kalshi market ticker.")
    title: str
    subtitle: str
    status: str
    close_time: datetime | None
    volume: Decimal
    open_interest: Decimal
    ticker_market: strawberry.Private[Any]

    @strawberry.field(description="The latest quote (the feed's, else the last synced one).")
    def quote(self) -> Quote:
        from markets import live

        return quote_of(live.get_quote(self.id), self.ticker_market)

    @strawberry.field(description="The order book as the feed last published it; null before it has one.")
    def book(self) -> Book | None:
        from markets import live

        return book_of(live.get_book(self.id))

    @classmethod
    def of(cls, m: Any) -> MarketType:
        return cls(
            id=m.ticker,
            title=m.title,
            subtitle=m.yes_sub_title,
            status=m.status,
            close_time=m.close_time,
            volume=m.volume,
            open_interest=m.open_interest,
            ticker_market=m,
        )


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def quote_of(quote: dict[str, Any] | None, market: Any = None) -> Quote:
    q = quote or {}
    fields = ("yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "yes_bid_size", "yes_ask_size")
    values = {f: dec(q.get(f)) if f in q else dec(getattr(market, f, None)) for f in fields}
    return Quote(**values)


def book_of(book: dict[str, Any] | None) -> Book | None:
    if not book:
        return None

    def levels(rows: Any) -> list[BookLevel]:
        out = []
        for row in rows or []:
            price, size, total = dec(row.get("price")), dec(row.get("size")), dec(row.get("total"))
            if price is not None and size is not None:
                out.append(BookLevel(price=price, size=size, total=total if total is not None else size))
        return out

    return Book(
        bids=levels(book.get("bids")),
        asks=levels(book.get("asks")),
        spread=dec(book.get("spread")),
        stale=bool(book.get("stale")),
    )


@strawberry.type
class MarketTick:
    market_id: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    last_price: Decimal | None
    at: datetime


@strawberry.type
class Position:
    market_id: str
    market_title: str
    side: Side | None
    quantity: Decimal = strawberry.field(description="Contracts held (positive) in `side`.")
    entry_price: Decimal | None = strawberry.field(description="Average price paid, in the held side's leg.")
    current_price: Decimal | None = strawberry.field(description="The mark, in the held side's leg.")
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    fees: Decimal


@strawberry.type
class Portfolio:
    total_value: Decimal | None = strawberry.field(description="Cash balance plus marked positions.")
    cash: Decimal | None
    positions: list[Position]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    is_stale: bool = strawberry.field(
        description="The stored snapshot is older than the desk's limit, or fills came after it; asking started "
        "a refresh (the same single-flight refresh as the portfolio page)."
    )
    refreshing: bool
    last_updated: datetime | None = strawberry.field(description="When the snapshot was taken at Kalshi.")


@strawberry.type
class KillSwitchResult:
    halted: bool
    reason: str
    orders: list[OrderType]
