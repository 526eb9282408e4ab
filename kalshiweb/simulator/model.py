"""The simulator's plain data: constants, the error type and the records the engine keeps.

A leaf module: it imports nothing from the simulator but the price grid. Behaviour lives elsewhere
(matching.py, ledger.py, lifecycle.py); the only logic here is derived reads on one record (a market's
best bid, an order's own price, an account's mark-to-market value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from kalshiweb.simulator.grid import PriceRange, ranges_for

ZERO = Decimal("0")
ONE = Decimal("1")
COUNT_STEP = Decimal("0.01")

BID, ASK = "bid", "ask"
GTC, IOC, FOK = "good_till_canceled", "immediate_or_cancel", "fill_or_kill"
TIME_IN_FORCE = (GTC, IOC, FOK)
STP_TYPES = ("taker_at_cross", "maker")

RESTING, CANCELED, EXECUTED = "resting", "canceled", "executed"

# Market statuses, as Kalshi names them (§6.2).
INITIALIZED, INACTIVE, ACTIVE, CLOSED, DETERMINED, FINALIZED = (
    "initialized",
    "inactive",
    "active",
    "closed",
    "determined",
    "finalized",
)

MAX_TRADE_HISTORY = 50_000


class ExchangeError(Exception):
    """A rejected request. Nothing has changed when this is raised."""

    def __init__(self, http_status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(f"{http_status} {code}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details


# --------------------------------------------------------------------------------------------- models


@dataclass
class Series:
    ticker: str
    title: str
    category: str
    frequency: str = "daily"
    tags: list[str] = field(default_factory=list)
    settlement_sources: list[dict[str, str]] = field(default_factory=list)
    contract_url: str = ""
    contract_terms_url: str = ""
    fee_type: str = "quadratic"
    fee_multiplier: Decimal = ONE
    additional_prohibitions: list[str] = field(default_factory=list)
    last_updated: datetime | None = None


@dataclass
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str = ""
    category: str = ""
    mutually_exclusive: bool = False
    strike_date: datetime | None = None
    strike_period: str | None = None
    settlement_sources: list[dict[str, str]] = field(default_factory=list)
    markets: list[str] = field(default_factory=list)  # tickers, in listing order
    last_updated: datetime | None = None

    @property
    def collateral_return_type(self) -> str:
        return "MECNET" if self.mutually_exclusive else ""


@dataclass
class Order:
    order_id: str
    user_id: str
    ticker: str
    book_side: str  # "bid" (buys YES) | "ask" (buys NO)
    yes_price: Decimal
    initial_count: Decimal
    remaining_count: Decimal
    time_in_force: str
    created_time: datetime
    last_update_time: datetime
    fill_count: Decimal = ZERO
    status: str = RESTING
    self_trade_prevention_type: str = "taker_at_cross"
    client_order_id: str | None = None
    expiration_time: datetime | None = None
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    order_group_id: str | None = None
    subaccount: int = 0
    taker_fill_cost: Decimal = ZERO
    maker_fill_cost: Decimal = ZERO
    taker_fees: Decimal = ZERO
    maker_fees: Decimal = ZERO
    last_update_reason: str | None = None
    reserved: Decimal = ZERO  # collateral held while resting == remaining_count x own_price

    @property
    def outcome_side(self) -> str:
        return "yes" if self.book_side == BID else "no"

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price

    @property
    def own_price(self) -> Decimal:
        """Price of the leg this order buys (YES price for a bid, NO price for an ask)."""
        return self.yes_price if self.book_side == BID else ONE - self.yes_price

    @property
    def is_resting(self) -> bool:
        return self.status == RESTING


@dataclass
class Trade:
    trade_id: str
    ticker: str
    yes_price: Decimal
    count: Decimal
    taker_book_side: str
    created_time: datetime
    is_block_trade: bool = False

    @property
    def taker_outcome_side(self) -> str:
        return "yes" if self.taker_book_side == BID else "no"

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price


@dataclass
class Fill:
    fill_id: str  # == trade_id, as on Kalshi
    trade_id: str
    order_id: str
    user_id: str
    ticker: str
    book_side: str
    is_taker: bool
    yes_price: Decimal
    count: Decimal
    fee: Decimal
    created_time: datetime
    post_position: Decimal
    client_order_id: str | None = None
    subaccount: int = 0

    @property
    def outcome_side(self) -> str:
        return "yes" if self.book_side == BID else "no"

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price

    @property
    def price(self) -> Decimal:
        """Price paid per contract of the leg bought."""
        return self.yes_price if self.book_side == BID else ONE - self.yes_price


@dataclass
class Position:
    user_id: str
    ticker: str
    event_ticker: str
    position: Decimal = ZERO  # > 0 YES contracts, < 0 NO contracts
    cost: Decimal = ZERO  # cost basis of the contracts held (market exposure)
    realized_pnl: Decimal = ZERO  # excludes fees (they are in fees_paid)
    fees_paid: Decimal = ZERO
    position_fee_cost: Decimal = ZERO  # fees attributable to the contracts still held
    total_traded: Decimal = ZERO  # dollars spent buying either leg
    volume: Decimal = ZERO  # contracts traded
    last_updated: datetime | None = None
    settled: bool = False

    @property
    def market_exposure(self) -> Decimal:
        return self.cost


@dataclass
class Settlement:
    user_id: str
    ticker: str
    event_ticker: str
    market_result: str
    yes_count: Decimal
    yes_total_cost: Decimal
    no_count: Decimal
    no_total_cost: Decimal
    revenue: Decimal  # dollars paid out
    settled_time: datetime
    fee_cost: Decimal
    value: int  # payout per YES contract, cents


@dataclass
class Market:
    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    yes_sub_title: str
    no_sub_title: str
    open_time: datetime
    close_time: datetime
    market_id: str = ""
    subtitle: str = ""
    rules_primary: str = ""
    rules_secondary: str = ""
    created_time: datetime | None = None
    updated_time: datetime | None = None
    expected_expiration_time: datetime | None = None
    latest_expiration_time: datetime | None = None
    settlement_timer_seconds: int = 300
    determination_delay_seconds: int = 120  # close -> determined, when advance() drives the lifecycle
    status: str = ACTIVE
    result: str = ""
    can_close_early: bool = False
    price_level_structure: str = "linear_cent"
    price_ranges: list[PriceRange] = field(default_factory=lambda: ranges_for("linear_cent"))
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    volume: Decimal = ZERO
    volume_24h: Decimal = ZERO
    open_interest: Decimal = ZERO
    last_price: Decimal = ZERO
    last_trade_size: Decimal = ZERO
    previous_yes_bid: Decimal = ZERO
    previous_yes_ask: Decimal = ZERO
    previous_price: Decimal = ZERO
    dollar_volume: Decimal = ZERO
    notional_value: Decimal = ONE
    settlement_value: Decimal | None = None
    settlement_ts: datetime | None = None
    determination_ts: datetime | None = None
    expiration_value: str = ""
    # Simulation-only state (never on the wire).
    fair_value: Decimal = Decimal("0.5")
    scheduled_result: str | None = None  # what determination will say; None = draw from fair_value
    yes_book: dict[Decimal, list[Order]] = field(default_factory=dict, repr=False)
    no_book: dict[Decimal, list[Order]] = field(default_factory=dict, repr=False)
    quote_history: list[tuple[int, Decimal, Decimal]] = field(default_factory=list, repr=False)
    trade_history: list[Trade] = field(default_factory=list, repr=False)  # oldest first
    oi_history: list[tuple[int, Decimal]] = field(default_factory=list, repr=False)
    last_ticker_state: tuple[object, ...] = field(default=(), repr=False)

    # -- book reads (NO side keyed by NO-leg price)
    def side(self, outcome: str) -> dict[Decimal, list[Order]]:
        return self.yes_book if outcome == "yes" else self.no_book

    def levels(self, outcome: str) -> list[tuple[Decimal, Decimal]]:
        book = self.side(outcome)
        return [(p, sum((o.remaining_count for o in book[p]), ZERO)) for p in sorted(book)]

    def best(self, outcome: str) -> tuple[Decimal, Decimal] | None:
        book = self.side(outcome)
        if not book:
            return None
        p = max(book)
        return p, sum((o.remaining_count for o in book[p]), ZERO)

    @property
    def yes_bid(self) -> Decimal:
        b = self.best("yes")
        return b[0] if b else ZERO

    @property
    def yes_bid_size(self) -> Decimal:
        b = self.best("yes")
        return b[1] if b else ZERO

    @property
    def no_bid(self) -> Decimal:
        b = self.best("no")
        return b[0] if b else ZERO

    @property
    def yes_ask(self) -> Decimal:
        b = self.best("no")
        return ONE - b[0] if b else ONE

    @property
    def yes_ask_size(self) -> Decimal:
        b = self.best("no")
        return b[1] if b else ZERO

    @property
    def no_ask(self) -> Decimal:
        b = self.best("yes")
        return ONE - b[0] if b else ONE

    @property
    def is_open(self) -> bool:
        return self.status == ACTIVE


@dataclass
class Account:
    user_id: str
    balance: Decimal
    deposited: Decimal
    orders: dict[str, Order] = field(default_factory=dict)  # every order ever placed, by id
    open_orders: dict[str, Order] = field(default_factory=dict)  # the resting ones, by id
    fills: list[Fill] = field(default_factory=list)  # newest first
    positions: dict[str, Position] = field(default_factory=dict)
    settlements: list[Settlement] = field(default_factory=list)  # newest first
    updated: datetime | None = None
    subaccount: int = 0  # 0 = the member's primary account, 1-63 = its numbered subaccounts
    # the exchange's market registry, for marking positions (shared, never copied)
    markets: Mapping[str, Market] | None = field(default=None, repr=False, compare=False)

    @property
    def reserved(self) -> Decimal:
        return sum((o.reserved for o in self.open_orders.values()), ZERO)

    @property
    def portfolio_value(self) -> Decimal:
        """Mark-to-market value of open positions (YES at the bid, NO at 1 - ask; last price if no quote)."""
        total = ZERO
        markets = self.markets
        for pos in self.positions.values():
            if not pos.position:
                continue
            m = markets.get(pos.ticker) if markets is not None else None
            if m is None:
                total += pos.cost
                continue
            if pos.position > 0:
                mark = m.yes_bid if m.best("yes") else m.last_price
                total += pos.position * mark
            else:
                mark = (ONE - m.yes_ask) if m.best("no") else (ONE - m.last_price if m.last_price else ZERO)
                total += -pos.position * mark
        return total


# --------------------------------------------------------------------------------------------- events

# --------------------------------------------------------------------------------------------- helpers


def unix(dt: datetime) -> int:
    return int(dt.timestamp())


def unix_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def as_decimal(value: object, what: str, code: str) -> Decimal:
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except Exception as exc:
        raise ExchangeError(400, code, f"{what} is not a number") from exc
    if not d.is_finite():
        raise ExchangeError(400, code, f"{what} is not a number")
    return d


def from_unix(ts: object) -> datetime:
    try:
        return datetime.fromtimestamp(int(ts), UTC)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ExchangeError(
            400, "invalid_parameters", "expiration_time must be a Unix timestamp in seconds"
        ) from exc


def json_number(d: Decimal) -> int | float:
    """A strike as a JSON number (Kalshi sends strikes as numbers, not strings)."""
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def floor_cents(d: Decimal) -> int:
    return int((d * 100).to_integral_value(rounding=ROUND_FLOOR))
