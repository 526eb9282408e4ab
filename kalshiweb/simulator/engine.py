"""The simulator's matching engine: a pure, in-memory, no-I/O model of a Kalshi exchange.

Everything is driven by method calls; the engine never reads the wall clock except once, for the default
`now` of a new `Exchange`. Time moves only through `advance(now)`.

Books are bids-only (protocol §5): each market holds YES bids and NO bids, keyed by the price of the leg
bought. A V2 `bid` at YES price p is a YES bid at p; an `ask` at p is a NO bid at 1 - p. A YES bid p and a
NO bid q cross when p + q >= 1; trades execute at the resting (maker) order's price, price-time priority.

Money model and the conservation invariant
------------------------------------------
* `Account.balance` is cash available to trade. A resting order holds collateral equal to
  remaining_count x (price of the leg it buys) in `Order.reserved`, taken out of the balance when it rests
  and given back on cancel/decrease/expiry. Maker fees are zero, so resting orders need no fee reserve;
  the taker fee is paid from the balance at the moment of the fill (and checked before anything happens).
* Every trade creates one YES and one NO contract per unit; the buyer of each leg pays its price, so
  each YES+NO pair is backed by exactly $1 of collateral held by the exchange.
* A user never holds both legs: buying YES while holding NO nets the pair out and pays the user $1 per
  pair (collateral release). Settlement pays $1 per winning contract.

Hence, at every moment::

    sum(a.balance + a.reserved for a in accounts) + open_contracts x $1 + fees_collected
        == sum(a.deposited for a in accounts)

where open_contracts = sum of positive positions = -(sum of negative positions) (`Exchange.open_contracts`).
`Exchange.check_invariants()` asserts this, plus "no crossed book" and "reserve == remaining x price".

Fees follow Kalshi's formula (see fees.py); the taker pays, makers pay nothing.

Order outcomes
--------------
* `last_update_reason` uses Kalshi's enum: Trade, Amend, Decrease, SelfTradeCancel, ExpiryCancel,
  CloseCancel, HaltCancel, PostOnlyCrossCancel, ReduceOnlyCancel. A user cancel, an IOC remainder and a
  FOK that cannot fill completely have no reason of their own (the IOC keeps "Trade" if it traded).
* Canceled orders report remaining_count 0, as Kalshi's cancel responses do.
* An amend that changes the price or grows the size loses time priority and is re-matched as a taker
  (it may trade); one that only shrinks keeps its place.
* Orders are placed only for known accounts (`add_account` first); unknown users get a 404.
"""

from __future__ import annotations

import logging
import random
import uuid
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from kalshiweb.simulator import fees
from kalshiweb.simulator.grid import PriceRange, on_grid, ranges_for

log = logging.getLogger(__name__)

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
    exchange: Exchange | None = field(default=None, repr=False, compare=False)

    @property
    def reserved(self) -> Decimal:
        return sum((o.reserved for o in self.open_orders.values()), ZERO)

    @property
    def portfolio_value(self) -> Decimal:
        """Mark-to-market value of open positions (YES at the bid, NO at 1 - ask; last price if no quote)."""
        total = ZERO
        ex = self.exchange
        for pos in self.positions.values():
            if not pos.position:
                continue
            m = ex.markets.get(pos.ticker) if ex else None
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


@dataclass
class BookDelta:
    ticker: str
    side: str  # "yes" | "no"
    price: Decimal  # NO side in NO-leg price
    delta: Decimal
    user_id: str | None
    client_order_id: str | None
    subaccount: int = 0


@dataclass
class TickerUpdate:
    ticker: str


@dataclass
class TradeEvent:
    trade: Trade


@dataclass
class FillEvent:
    user_id: str
    fill: Fill
    order: Order


@dataclass
class OrderUpdate:
    user_id: str
    order: Order


@dataclass
class PositionUpdate:
    user_id: str
    ticker: str


@dataclass
class LifecycleEvent:
    ticker: str
    # created|activated|deactivated|close_date_updated|determined|settled|price_level_structure_updated|metadata_updated
    event_type: str
    data: dict[str, object]  # wire-ready extra fields of the market_lifecycle_v2 msg


SimEvent = BookDelta | TickerUpdate | TradeEvent | FillEvent | OrderUpdate | PositionUpdate | LifecycleEvent


# --------------------------------------------------------------------------------------------- helpers


def unix(dt: datetime) -> int:
    return int(dt.timestamp())


def unix_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _as_decimal(value: object, what: str, code: str) -> Decimal:
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except Exception as exc:
        raise ExchangeError(400, code, f"{what} is not a number") from exc
    if not d.is_finite():
        raise ExchangeError(400, code, f"{what} is not a number")
    return d


@dataclass
class _Plan:
    fills: list[tuple[Order, Decimal]]
    maker_cancels: list[Order]
    stopped: bool  # taker_at_cross self-trade stop
    left: Decimal


# --------------------------------------------------------------------------------------------- exchange


class Exchange:
    def __init__(
        self,
        *,
        seed: int = 0,
        now: datetime | None = None,
        activity: float = 0.0,
        default_balance: Decimal = Decimal("10000"),
        catalog: bool = True,
    ) -> None:
        if now is None:
            now = datetime.now(UTC).replace(microsecond=0)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now: datetime = now.astimezone(UTC)
        self.seed = seed
        self.activity = float(activity)
        self.default_balance = Decimal(default_balance)
        self.series: dict[str, Series] = {}
        self.events: dict[str, Event] = {}
        self.markets: dict[str, Market] = {}
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.fees_collected: Decimal = ZERO
        self.rng = random.Random(seed)
        self._id_rng = random.Random(f"kalshiweb-sim-ids-{seed}")
        self._trades: list[Trade] = []  # newest first
        self._client_ids: dict[tuple[str, str], str] = {}
        self._listeners: list[Callable[[SimEvent], None]] = []
        self._bot_clock: datetime = self.now
        if catalog:
            from kalshiweb.simulator.catalog import build_catalog

            build_catalog(self)

    # ------------------------------------------------------------------ plumbing

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def add_listener(self, fn: Callable[[SimEvent], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[SimEvent], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _emit(self, ev: SimEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a broken listener must not leave a half-applied match behind
                log.exception("simulator listener failed on %r", ev)

    def set_activity(self, rate: float) -> None:
        self.activity = max(0.0, float(rate))

    # ------------------------------------------------------------------ accounts

    def add_account(self, user_id: str, balance: Decimal | None = None) -> Account:
        if user_id in self.accounts:
            return self.accounts[user_id]
        bal = self.default_balance if balance is None else Decimal(balance)
        acct = Account(user_id=user_id, balance=bal, deposited=bal, updated=self.now, exchange=self)
        self.accounts[user_id] = acct
        return acct

    def account(self, user_id: str) -> Account:
        try:
            return self.accounts[user_id]
        except KeyError:
            raise ExchangeError(404, "not_found", f"unknown account {user_id!r}") from None

    def deposit(self, user_id: str, amount: Decimal) -> None:
        acct = self.account(user_id)
        acct.balance += amount
        acct.deposited += amount

    def position(self, user_id: str, ticker: str) -> Position:
        acct = self.account(user_id)
        pos = acct.positions.get(ticker)
        if pos is None:
            m = self.get_market(ticker)
            pos = Position(user_id=user_id, ticker=ticker, event_ticker=m.event_ticker, last_updated=self.now)
            acct.positions[ticker] = pos
        return pos

    def portfolio_value(self, user_id: str) -> Decimal:
        return self.account(user_id).portfolio_value

    # ------------------------------------------------------------------ catalog

    def add_series(self, s: Series) -> Series:
        if s.last_updated is None:
            s.last_updated = self.now
        self.series[s.ticker] = s
        return s

    def add_event(self, e: Event) -> Event:
        if e.last_updated is None:
            e.last_updated = self.now
        self.events[e.event_ticker] = e
        return e

    def add_market(self, m: Market) -> Market:
        if m.ticker in self.markets:
            raise ExchangeError(409, "market_already_exists", f"market {m.ticker!r} already exists")
        if not m.market_id:
            m.market_id = self.new_id()
        m.created_time = m.created_time or min(self.now, m.open_time)
        m.updated_time = m.updated_time or m.created_time
        m.expected_expiration_time = m.expected_expiration_time or m.close_time
        m.latest_expiration_time = m.latest_expiration_time or (m.close_time + timedelta(days=7))
        if m.status == ACTIVE and self.now < m.open_time:
            m.status = INITIALIZED
        self.markets[m.ticker] = m
        ev = self.events.get(m.event_ticker)
        if ev is not None and m.ticker not in ev.markets:
            ev.markets.append(m.ticker)
        self._record_quote(m)
        m.last_ticker_state = self._ticker_state(m)
        self._lifecycle(
            m,
            "created",
            exchange_index=0,
            open_ts=unix(m.open_time),
            close_ts=unix(m.close_time),
            additional_metadata=self._additional_metadata(m),
            price_level_structure=m.price_level_structure,
            price_ranges=[
                {"start": f"{r.start:.4f}", "end": f"{r.end:.4f}", "step": f"{r.step:.4f}"}
                for r in m.price_ranges
            ],
        )
        return m

    def _additional_metadata(self, m: Market) -> dict[str, object]:
        ev = self.events.get(m.event_ticker)
        meta: dict[str, object] = {
            "name": ev.title if ev else m.title,
            "title": m.title,
            "yes_sub_title": m.yes_sub_title,
            "no_sub_title": m.no_sub_title,
            "rules_primary": m.rules_primary,
            "rules_secondary": m.rules_secondary,
            "can_close_early": m.can_close_early,
            "event_ticker": m.event_ticker,
            "expected_expiration_ts": unix(m.expected_expiration_time or m.close_time),
        }
        if m.strike_type:
            meta["strike_type"] = m.strike_type
        if m.floor_strike is not None:
            meta["floor_strike"] = _json_number(m.floor_strike)
        if m.cap_strike is not None:
            meta["cap_strike"] = _json_number(m.cap_strike)
        return meta

    # ------------------------------------------------------------------ reads

    def get_market(self, ticker: str) -> Market:
        try:
            return self.markets[ticker]
        except KeyError:
            raise ExchangeError(404, "not_found", f"market {ticker!r} not found") from None

    def book(self, ticker: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        m = self.get_market(ticker)
        return m.levels("yes"), m.levels("no")

    def trades(self, ticker: str | None = None) -> list[Trade]:
        if ticker is None:
            return list(self._trades)
        return list(reversed(self.get_market(ticker).trade_history))

    def get_order(self, user_id: str, order_id: str) -> Order:
        o = self.orders.get(order_id)
        if o is None or o.user_id != user_id:
            raise ExchangeError(404, "not_found", f"order {order_id!r} not found")
        return o

    def find_order_by_client_id(self, user_id: str, client_order_id: str) -> Order | None:
        oid = self._client_ids.get((user_id, client_order_id))
        return self.orders.get(oid) if oid else None

    def candlesticks(self, ticker: str, start_ts: int, end_ts: int, period_minutes: int) -> list[dict]:
        from kalshiweb.simulator.candles import build_candlesticks

        return build_candlesticks(self, self.get_market(ticker), start_ts, end_ts, period_minutes)

    @property
    def open_contracts(self) -> Decimal:
        return sum((m.open_interest for m in self.markets.values()), ZERO)

    # ------------------------------------------------------------------ validation helpers

    def _require_active(self, m: Market) -> None:
        if m.status != ACTIVE or self.now >= m.close_time:
            raise ExchangeError(400, "MARKET_INACTIVE", f"market {m.ticker} is not open for trading")

    def _check_price(self, m: Market, price: object) -> Decimal:
        p = _as_decimal(price, "price", "invalid_order")
        if not on_grid(p, m.price_ranges):
            raise ExchangeError(
                400,
                "invalid_order",
                f"price {p} is not a valid price for {m.ticker}",
                m.price_level_structure,
            )
        return p

    @staticmethod
    def _check_count(count: object, what: str = "count") -> Decimal:
        c = _as_decimal(count, what, "invalid_order_size")
        if c <= 0 or c % COUNT_STEP != 0:
            raise ExchangeError(400, "invalid_order_size", f"{what} must be a positive multiple of 0.01")
        return c

    # ------------------------------------------------------------------ order writes

    def create_order(
        self,
        user_id: str,
        *,
        ticker: str,
        side: str,
        count: Decimal,
        price: Decimal,
        time_in_force: str,
        self_trade_prevention_type: str = "taker_at_cross",
        client_order_id: str | None = None,
        expiration_time: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        cancel_order_on_pause: bool = False,
        order_group_id: str | None = None,
        subaccount: int = 0,
    ) -> Order:
        acct = self.account(user_id)
        m = self.get_market(ticker)
        if side not in (BID, ASK):
            raise ExchangeError(400, "invalid_parameters", "side must be 'bid' or 'ask'")
        if time_in_force not in TIME_IN_FORCE:
            raise ExchangeError(400, "invalid_parameters", f"unknown time_in_force {time_in_force!r}")
        if self_trade_prevention_type not in STP_TYPES:
            raise ExchangeError(400, "invalid_parameters", "unknown self_trade_prevention_type")
        if not isinstance(subaccount, int) or not 0 <= subaccount <= 63:
            raise ExchangeError(400, "invalid_parameters", "subaccount must be between 0 and 63")
        self._require_active(m)
        qty = self._check_count(count)
        p = self._check_price(m, price)
        exp: datetime | None = None
        if expiration_time is not None:
            if time_in_force == IOC:
                raise ExchangeError(
                    400, "invalid_order", "Cannot specify both immediate_or_cancel and expiration_ts"
                )
            if time_in_force != GTC:
                raise ExchangeError(
                    400, "invalid_order", "expiration_time is only valid with good_till_canceled"
                )
            exp = _from_unix(expiration_time)
            if exp <= self.now:
                raise ExchangeError(400, "invalid_order", "Expiration timestamp must be in the future")
        if reduce_only and time_in_force != IOC:
            raise ExchangeError(400, "invalid_order", "reduce_only orders must be immediate_or_cancel")
        if post_only and time_in_force != GTC:
            raise ExchangeError(400, "invalid_order", "post_only orders must be good_till_canceled")
        if client_order_id is not None and (user_id, client_order_id) in self._client_ids:
            raise ExchangeError(409, "order_already_exists", "Order with this client_order_id already exists")

        order = Order(
            order_id="",  # assigned when stored, so a rejected order leaves no trace
            user_id=user_id,
            ticker=ticker,
            book_side=side,
            yes_price=p,
            initial_count=qty,
            remaining_count=qty,
            time_in_force=time_in_force,
            created_time=self.now,
            last_update_time=self.now,
            self_trade_prevention_type=self_trade_prevention_type,
            client_order_id=client_order_id,
            expiration_time=exp,
            post_only=post_only,
            reduce_only=reduce_only,
            cancel_order_on_pause=cancel_order_on_pause,
            order_group_id=order_group_id,
            subaccount=subaccount,
        )

        if reduce_only:
            held = acct.positions.get(ticker)
            pos = held.position if held else ZERO
            cap = max(-pos, ZERO) if side == BID else max(pos, ZERO)
            if cap < qty:
                order.initial_count = order.remaining_count = cap
            if cap <= 0:
                self._store_new(acct, order)
                self._finish_canceled(order, "ReduceOnlyCancel")
                return order

        if post_only and self._would_cross(m, order):
            self._store_new(acct, order)
            self._finish_canceled(order, "PostOnlyCrossCancel")
            return order

        plan = self._plan(m, order)
        if time_in_force == FOK and (plan.left > 0 or plan.stopped):
            self._store_new(acct, order)
            self._finish_canceled(order, None)
            return order

        self._check_affordable(acct, m, order, plan, available=acct.balance)
        self._store_new(acct, order)
        self._execute(m, acct, order, plan)
        return order

    def _store_new(self, acct: Account, order: Order) -> None:
        order.order_id = order.order_id or self.new_id()
        self.orders[order.order_id] = order
        acct.orders[order.order_id] = order
        if order.client_order_id is not None:
            self._client_ids[(order.user_id, order.client_order_id)] = order.order_id

    def _finish_canceled(self, order: Order, reason: str | None) -> None:
        order.status = CANCELED
        order.remaining_count = ZERO
        order.last_update_reason = reason
        order.last_update_time = self.now
        self._emit(OrderUpdate(order.user_id, order))

    def cancel_order(self, user_id: str, order_id: str) -> tuple[Order, Decimal]:
        order = self.get_order(user_id, order_id)
        m = self.get_market(order.ticker)
        self._require_active(m)
        if not order.is_resting:
            raise ExchangeError(404, "not_found", f"order {order_id!r} is not resting")
        before = self._ticker_state(m)
        reduced = self._cancel_resting(m, order, None)
        self._touch(m, before)
        return order, reduced

    def cancel_all(self, user_id: str) -> list[Order]:
        acct = self.account(user_id)
        out: list[Order] = []
        for order in list(acct.open_orders.values()):
            m = self.markets[order.ticker]
            if m.status != ACTIVE:
                continue
            before = self._ticker_state(m)
            self._cancel_resting(m, order, None)
            self._touch(m, before)
            out.append(order)
        return out

    def decrease_order(
        self,
        user_id: str,
        order_id: str,
        *,
        reduce_by: Decimal | None = None,
        reduce_to: Decimal | None = None,
    ) -> Order:
        order = self.get_order(user_id, order_id)
        m = self.get_market(order.ticker)
        self._require_active(m)
        if (reduce_by is None) == (reduce_to is None):
            raise ExchangeError(
                400, "invalid_parameters", "exactly one of reduce_by or reduce_to is required"
            )
        if not order.is_resting:
            raise ExchangeError(400, "invalid_order", "order is not resting")
        if reduce_by is not None:
            by = self._check_count(reduce_by, "reduce_by")
        else:
            to = _as_decimal(reduce_to, "reduce_to", "invalid_order_size")
            if to < 0 or to % COUNT_STEP != 0:
                raise ExchangeError(
                    400, "invalid_order_size", "reduce_to must be a non-negative multiple of 0.01"
                )
            by = order.remaining_count - to
            if by <= 0:
                raise ExchangeError(400, "invalid_order_size", "reduce_to must be below the remaining count")
        by = min(by, order.remaining_count)
        before = self._ticker_state(m)
        if by >= order.remaining_count:
            self._cancel_resting(m, order, "Decrease")
        else:
            acct = self.accounts[user_id]
            order.remaining_count -= by
            release = by * order.own_price
            order.reserved -= release
            acct.balance += release
            order.last_update_reason = "Decrease"
            order.last_update_time = self.now
            self._emit(
                BookDelta(
                    m.ticker,
                    order.outcome_side,
                    order.own_price,
                    -by,
                    user_id,
                    order.client_order_id,
                    order.subaccount,
                )
            )
            self._emit(OrderUpdate(user_id, order))
        self._touch(m, before)
        return order

    def amend_order(
        self,
        user_id: str,
        order_id: str,
        *,
        ticker: str,
        side: str,
        price: Decimal,
        count: Decimal,
        updated_client_order_id: str | None = None,
        expiration_time: int | None = None,
    ) -> Order:
        order = self.get_order(user_id, order_id)
        if ticker != order.ticker:
            raise ExchangeError(400, "order_ticker_mismatch", "ticker does not match the order")
        if side != order.book_side:
            raise ExchangeError(400, "order_side_mismatch", "side does not match the order")
        m = self.get_market(ticker)
        self._require_active(m)
        if not order.is_resting:
            raise ExchangeError(400, "invalid_order", "order is not resting")
        p = self._check_price(m, price)
        total = self._check_count(count)
        if total <= order.fill_count:
            raise ExchangeError(400, "invalid_order_size", "count must exceed the filled count")
        new_remaining = total - order.fill_count
        new_exp = order.expiration_time
        if expiration_time is not None:
            new_exp = _from_unix(expiration_time)
            if new_exp == datetime.fromtimestamp(0, UTC):
                new_exp = None
            else:
                if new_exp <= self.now:
                    raise ExchangeError(400, "invalid_order", "Expiration timestamp must be in the future")
        if updated_client_order_id is not None and updated_client_order_id != order.client_order_id:
            if (user_id, updated_client_order_id) in self._client_ids:
                raise ExchangeError(
                    409, "order_already_exists", "Order with this client_order_id already exists"
                )
        acct = self.accounts[user_id]
        keeps_priority = p == order.yes_price and new_remaining <= order.remaining_count

        # Dry run on a copy to validate affordability before touching anything.
        probe = Order(**{**order.__dict__, "yes_price": p, "remaining_count": new_remaining})
        plan = self._plan(m, probe) if not keeps_priority else _Plan([], [], False, new_remaining)
        if order.post_only and not keeps_priority and self._would_cross(m, probe):
            raise ExchangeError(400, "invalid_order", "a post-only order cannot be amended to cross the book")
        self._check_affordable(acct, m, probe, plan, available=acct.balance + order.reserved)

        before = self._ticker_state(m)
        if updated_client_order_id is not None and updated_client_order_id != order.client_order_id:
            if order.client_order_id is not None:
                self._client_ids.pop((user_id, order.client_order_id), None)
            order.client_order_id = updated_client_order_id
            self._client_ids[(user_id, updated_client_order_id)] = order.order_id
        order.expiration_time = new_exp
        order.last_update_reason = "Amend"
        order.last_update_time = self.now
        if keeps_priority:
            by = order.remaining_count - new_remaining
            if by:
                order.remaining_count = new_remaining
                release = by * order.own_price
                order.reserved -= release
                acct.balance += release
                self._emit(
                    BookDelta(
                        m.ticker,
                        order.outcome_side,
                        order.own_price,
                        -by,
                        user_id,
                        order.client_order_id,
                        order.subaccount,
                    )
                )
            self._emit(OrderUpdate(user_id, order))
            self._touch(m, before)
            return order
        # Lose priority: take the order off the book, then run it again as a taker at the new terms.
        self._unrest(m, order)
        order.yes_price = p
        order.remaining_count = new_remaining
        order.time_in_force = GTC
        self._emit(OrderUpdate(user_id, order))
        self._execute(m, acct, order, self._plan(m, order), before=before)
        return order

    # ------------------------------------------------------------------ matching

    def _would_cross(self, m: Market, order: Order) -> bool:
        opp = m.no_book if order.book_side == BID else m.yes_book
        return bool(opp) and max(opp) >= ONE - order.own_price

    def _plan(self, m: Market, order: Order) -> _Plan:
        opp = m.no_book if order.book_side == BID else m.yes_book
        threshold = ONE - order.own_price
        left = order.remaining_count
        fills: list[tuple[Order, Decimal]] = []
        cancels: list[Order] = []
        stopped = False
        for level in sorted((q for q in opp if q >= threshold), reverse=True):
            for maker in opp[level]:
                if maker.user_id == order.user_id:
                    if order.self_trade_prevention_type == "maker":
                        cancels.append(maker)
                        continue
                    stopped = True
                    break
                take = min(left, maker.remaining_count)
                fills.append((maker, take))
                left -= take
                if not left:
                    break
            if stopped or not left:
                break
        return _Plan(fills, cancels, stopped, left)

    def _check_affordable(
        self, acct: Account, m: Market, order: Order, plan: _Plan, *, available: Decimal
    ) -> None:
        held = acct.positions.get(m.ticker)
        pos = held.position if held else ZERO
        need = ZERO
        for maker, q in plan.fills:
            px = maker.yes_price if order.book_side == BID else ONE - maker.yes_price
            need += q * px + fees.taker_fee(q, maker.yes_price)
            if order.book_side == BID:
                need -= min(q, max(-pos, ZERO))
                pos += q
            else:
                need -= min(q, max(pos, ZERO))
                pos -= q
        available += sum((c.reserved for c in plan.maker_cancels), ZERO)
        if order.time_in_force == GTC and not plan.stopped:
            need += plan.left * order.own_price
        if need > available:
            raise ExchangeError(
                400,
                "available_balance_too_low",
                "insufficient balance",
                f"need {need:.4f}, have {available:.4f}",
            )

    def _execute(
        self, m: Market, acct: Account, order: Order, plan: _Plan, before: tuple[object, ...] | None = None
    ) -> None:
        if before is None:
            before = self._ticker_state(m)
        for maker in plan.maker_cancels:
            self._cancel_resting(m, maker, "SelfTradeCancel")
        for maker, q in plan.fills:
            self._fill(m, order, maker, q)
        if order.remaining_count == 0:
            order.status = EXECUTED
        elif plan.stopped:
            self._finish_canceled(order, "SelfTradeCancel")
        elif order.time_in_force == GTC:
            self._rest(m, acct, order)
        else:
            order.status = CANCELED
            order.remaining_count = ZERO
            order.last_update_time = self.now
            self._emit(OrderUpdate(order.user_id, order))
        self._touch(m, before)

    def _rest(self, m: Market, acct: Account, order: Order) -> None:
        order.status = RESTING
        order.reserved = order.remaining_count * order.own_price
        acct.balance -= order.reserved
        acct.open_orders[order.order_id] = order
        m.side(order.outcome_side).setdefault(order.own_price, []).append(order)
        self._emit(
            BookDelta(
                m.ticker,
                order.outcome_side,
                order.own_price,
                order.remaining_count,
                order.user_id,
                order.client_order_id,
                order.subaccount,
            )
        )
        self._emit(OrderUpdate(order.user_id, order))

    def _unrest(self, m: Market, order: Order) -> Decimal:
        """Take a resting order off the book and release its collateral; returns the count removed."""
        book = m.side(order.outcome_side)
        queue = book.get(order.own_price, [])
        if order in queue:
            queue.remove(order)
            if not queue:
                del book[order.own_price]
        acct = self.accounts[order.user_id]
        acct.balance += order.reserved
        acct.open_orders.pop(order.order_id, None)
        order.reserved = ZERO
        removed = order.remaining_count
        if removed:
            self._emit(
                BookDelta(
                    m.ticker,
                    order.outcome_side,
                    order.own_price,
                    -removed,
                    order.user_id,
                    order.client_order_id,
                    order.subaccount,
                )
            )
        return removed

    def _cancel_resting(self, m: Market, order: Order, reason: str | None) -> Decimal:
        removed = self._unrest(m, order)
        self._finish_canceled(order, reason)
        return removed

    def _fill(self, m: Market, taker: Order, maker: Order, q: Decimal) -> None:
        yes_price = maker.yes_price
        fee = fees.taker_fee(q, yes_price)
        maker_fee = fees.maker_fee(q, yes_price)
        trade_id = self.new_id()
        now = self.now

        # Maker: collateral becomes the contract.
        maker_acct = self.accounts[maker.user_id]
        cost_m = q * maker.own_price
        maker.reserved -= cost_m
        maker.remaining_count -= q
        maker.fill_count += q
        maker.maker_fill_cost += cost_m
        maker.maker_fees += maker_fee
        maker_acct.balance -= maker_fee
        maker.last_update_reason = "Trade"
        maker.last_update_time = now
        queue = m.side(maker.outcome_side)[maker.own_price]
        if not maker.remaining_count:
            maker.status = EXECUTED
            maker_acct.open_orders.pop(maker.order_id, None)
            queue.remove(maker)
            if not queue:
                del m.side(maker.outcome_side)[maker.own_price]

        # Taker pays at the maker's price plus the taker fee.
        taker_acct = self.accounts[taker.user_id]
        cost_t = q * (yes_price if taker.book_side == BID else ONE - yes_price)
        taker_acct.balance -= cost_t + fee
        taker.remaining_count -= q
        taker.fill_count += q
        taker.taker_fill_cost += cost_t
        taker.taker_fees += fee
        taker.last_update_reason = "Trade"
        taker.last_update_time = now
        if not taker.remaining_count:
            taker.status = EXECUTED
        self.fees_collected += fee + maker_fee

        m.volume += q
        m.volume_24h += q
        m.dollar_volume += q * yes_price
        m.last_price = yes_price
        m.last_trade_size = q
        pos_m = self._apply_position(maker_acct, m, maker.outcome_side, q, maker.own_price, maker_fee)
        pos_t = self._apply_position(taker_acct, m, taker.outcome_side, q, ONE - maker.own_price, fee)

        trade = Trade(trade_id, m.ticker, yes_price, q, taker.book_side, now)
        m.trade_history.append(trade)
        self._trades.insert(0, trade)
        if len(self._trades) > MAX_TRADE_HISTORY:
            self._trades.pop()
        m.oi_history.append((unix(now), m.open_interest))
        f_m = Fill(
            trade_id, trade_id, maker.order_id, maker.user_id, m.ticker, maker.book_side, False, yes_price, q,
            maker_fee, now, pos_m.position, maker.client_order_id, maker.subaccount,
        )  # fmt: skip
        f_t = Fill(
            trade_id, trade_id, taker.order_id, taker.user_id, m.ticker, taker.book_side, True, yes_price, q,
            fee, now, pos_t.position, taker.client_order_id, taker.subaccount,
        )  # fmt: skip
        maker_acct.fills.insert(0, f_m)
        taker_acct.fills.insert(0, f_t)

        self._emit(
            BookDelta(
                m.ticker,
                maker.outcome_side,
                maker.own_price,
                -q,
                maker.user_id,
                maker.client_order_id,
                maker.subaccount,
            )
        )
        for acct, f, o in ((maker_acct, f_m, maker), (taker_acct, f_t, taker)):
            acct.updated = now
            self._emit(FillEvent(acct.user_id, f, o))
            self._emit(OrderUpdate(acct.user_id, o))
            self._emit(PositionUpdate(acct.user_id, m.ticker))
        self._emit(TradeEvent(trade))

    def _apply_position(
        self, acct: Account, m: Market, outcome: str, q: Decimal, price: Decimal, fee: Decimal
    ) -> Position:
        pos = acct.positions.get(m.ticker)
        if pos is None:
            pos = Position(acct.user_id, m.ticker, m.event_ticker)
            acct.positions[m.ticker] = pos
        old = pos.position
        held = -old if outcome == "yes" else old  # contracts of the opposite leg we hold
        close = min(q, max(held, ZERO))
        if close:
            avg = pos.cost / held
            basis = avg * close
            fee_basis = pos.position_fee_cost * close / held
            pos.cost -= basis
            pos.position_fee_cost -= fee_basis
            pos.realized_pnl += close * (ONE - price) - basis
            acct.balance += close  # a YES+NO pair is worth exactly $1
        opened = q - close
        if opened:
            pos.cost += opened * price
        pos.position_fee_cost += fee * opened / q
        pos.position = old + q if outcome == "yes" else old - q
        if not pos.position:
            pos.cost = ZERO
            pos.position_fee_cost = ZERO
        pos.fees_paid += fee
        pos.total_traded += q * price
        pos.volume += q
        pos.last_updated = self.now
        pos.settled = False
        m.open_interest += max(pos.position, ZERO) - max(old, ZERO)
        return pos

    # ------------------------------------------------------------------ ticker bookkeeping

    def _ticker_state(self, m: Market) -> tuple[object, ...]:
        yes, no = m.best("yes"), m.best("no")
        return (yes, no, m.last_price, m.volume, m.volume_24h, m.open_interest, m.status)

    def _record_quote(self, m: Market) -> None:
        ts = unix(self.now)
        bid, ask = m.yes_bid, m.yes_ask
        if m.quote_history and m.quote_history[-1][1:] == (bid, ask):
            return
        if m.quote_history and m.quote_history[-1][0] == ts:
            m.quote_history[-1] = (ts, bid, ask)
        else:
            m.quote_history.append((ts, bid, ask))

    def _touch(self, m: Market, before: tuple[object, ...]) -> None:
        state = self._ticker_state(m)
        if state != before or state != m.last_ticker_state:
            m.last_ticker_state = state
            self._record_quote(m)
            self._emit(TickerUpdate(m.ticker))

    # ------------------------------------------------------------------ lifecycle

    def _lifecycle(self, m: Market, event_type: str, **data: object) -> None:
        self._emit(LifecycleEvent(m.ticker, event_type, dict(data)))

    def advance(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = now.astimezone(UTC)
        if now < self.now:
            return
        prev = self.now
        self.now = now
        self._expire_orders()
        self._run_lifecycle()
        self._roll_volume_24h()
        if self.activity > 0:
            from kalshiweb.simulator.bots import run_bots

            try:
                run_bots(self, (now - prev).total_seconds())
            except Exception:  # bots must never take the exchange down
                log.exception("simulator bots failed")

    def _roll_volume_24h(self) -> None:
        cutoff = self.now - timedelta(hours=24)
        for m in self.markets.values():
            if not m.trade_history or m.trade_history[0].created_time > cutoff:
                continue  # nothing has aged out (or no trades): the running total is right
            i = bisect_right(m.trade_history, cutoff, key=lambda t: t.created_time)
            volume = sum((t.count for t in m.trade_history[i:]), ZERO)
            if volume != m.volume_24h:
                before = self._ticker_state(m)
                m.volume_24h = volume
                self._touch(m, before)

    def _expire_orders(self) -> None:
        for order in [
            o
            for a in self.accounts.values()
            for o in a.open_orders.values()
            if o.expiration_time and o.expiration_time <= self.now
        ]:
            m = self.markets[order.ticker]
            before = self._ticker_state(m)
            self._cancel_resting(m, order, "ExpiryCancel")
            self._touch(m, before)

    def _run_lifecycle(self) -> None:
        for m in list(self.markets.values()):
            if m.status == INITIALIZED and self.now >= m.open_time:
                before = self._ticker_state(m)
                m.status = ACTIVE
                self._touch(m, before)
            if m.status in (ACTIVE, INACTIVE) and self.now >= m.close_time:
                self.close_market(m.ticker)
            if m.status == CLOSED and self.now >= m.close_time + timedelta(
                seconds=m.determination_delay_seconds
            ):
                result = m.scheduled_result or ("yes" if self.rng.random() < float(m.fair_value) else "no")
                self.determine_market(m.ticker, result)
            if (
                m.status == DETERMINED
                and m.determination_ts is not None
                and self.now >= m.determination_ts + timedelta(seconds=m.settlement_timer_seconds)
            ):
                self._settle(m)

    def close_market(self, ticker: str) -> None:
        m = self.get_market(ticker)
        if m.status not in (ACTIVE, INACTIVE, INITIALIZED):
            return
        before = self._ticker_state(m)
        for order in [o for q in (*m.yes_book.values(), *m.no_book.values()) for o in q]:
            self._cancel_resting(m, order, "CloseCancel")
        m.status = CLOSED
        if self.now < m.close_time:
            m.close_time = self.now
            self._lifecycle(m, "close_date_updated", close_ts=unix(m.close_time))
        m.updated_time = self.now
        self._touch(m, before)

    def determine_market(self, ticker: str, result: str) -> None:
        if result not in ("yes", "no"):
            raise ExchangeError(400, "invalid_parameters", "result must be 'yes' or 'no'")
        m = self.get_market(ticker)
        if m.status in (DETERMINED, FINALIZED):
            return
        if m.status != CLOSED:
            self.close_market(ticker)
        before = self._ticker_state(m)
        m.status = DETERMINED
        m.result = result
        m.settlement_value = ONE if result == "yes" else ZERO
        m.expiration_value = result
        m.determination_ts = self.now
        self._lifecycle(
            m,
            "determined",
            determination_ts=unix(self.now),
            result=result,
            settlement_value=f"{m.settlement_value:.4f}",
        )
        self._touch(m, before)

    def settle_market(self, ticker: str, result: str) -> None:
        """Force close, determine and settle `ticker` now (for tests and admin use)."""
        self.determine_market(ticker, result)
        m = self.get_market(ticker)
        if m.status == DETERMINED:
            self._settle(m)

    def _settle(self, m: Market) -> None:
        before = self._ticker_state(m)
        value = 100 if m.result == "yes" else 0
        for acct in self.accounts.values():
            pos = acct.positions.get(m.ticker)
            if pos is None or pos.settled:
                continue
            yes_count = max(pos.position, ZERO)
            no_count = max(-pos.position, ZERO)
            payout = yes_count if m.result == "yes" else no_count
            acct.balance += payout
            s = Settlement(
                user_id=acct.user_id,
                ticker=m.ticker,
                event_ticker=m.event_ticker,
                market_result=m.result,
                yes_count=yes_count,
                yes_total_cost=pos.cost if yes_count else ZERO,
                no_count=no_count,
                no_total_cost=pos.cost if no_count else ZERO,
                revenue=payout,
                settled_time=self.now,
                fee_cost=pos.fees_paid,
                value=value,
            )
            acct.settlements.insert(0, s)
            pos.realized_pnl += payout - pos.cost
            pos.position = ZERO
            pos.cost = ZERO
            pos.position_fee_cost = ZERO
            pos.settled = True
            pos.last_updated = self.now
            acct.updated = self.now
            self._emit(PositionUpdate(acct.user_id, m.ticker))
        m.open_interest = ZERO
        m.oi_history.append((unix(self.now), ZERO))
        m.status = FINALIZED
        m.settlement_ts = self.now
        m.updated_time = self.now
        self._lifecycle(m, "settled", settled_ts=unix(self.now))
        self._touch(m, before)

    def pause_market(self, ticker: str) -> None:
        m = self.get_market(ticker)
        if m.status != ACTIVE:
            return
        before = self._ticker_state(m)
        for order in [o for q in (*m.yes_book.values(), *m.no_book.values()) for o in q]:
            if order.cancel_order_on_pause:
                self._cancel_resting(m, order, "HaltCancel")
        m.status = INACTIVE
        self._lifecycle(m, "deactivated", is_deactivated=True)
        self._touch(m, before)

    def resume_market(self, ticker: str) -> None:
        m = self.get_market(ticker)
        if m.status != INACTIVE:
            return
        before = self._ticker_state(m)
        m.status = ACTIVE
        self._lifecycle(m, "activated", is_deactivated=False)
        self._touch(m, before)

    def set_close_time(self, ticker: str, close_time: datetime) -> None:
        m = self.get_market(ticker)
        m.close_time = close_time.astimezone(UTC)
        m.updated_time = self.now
        self._lifecycle(m, "close_date_updated", close_ts=unix(m.close_time))

    def set_price_level_structure(self, ticker: str, structure: str) -> None:
        """Switch a market to another price grid (resting orders stay where they are)."""
        m = self.get_market(ticker)
        try:
            m.price_ranges = ranges_for(structure)
        except KeyError:
            raise ExchangeError(
                400, "invalid_parameters", f"unknown price level structure {structure!r}"
            ) from None
        m.price_level_structure = structure
        m.updated_time = self.now
        self._lifecycle(
            m,
            "price_level_structure_updated",
            price_level_structure=structure,
            price_ranges=[
                {"start": f"{r.start:.4f}", "end": f"{r.end:.4f}", "step": f"{r.step:.4f}"}
                for r in m.price_ranges
            ],
        )

    def update_market_metadata(
        self,
        ticker: str,
        *,
        yes_sub_title: str | None = None,
        strike_type: str | None = None,
        floor_strike: Decimal | None = None,
        cap_strike: Decimal | None = None,
    ) -> None:
        """Change a market's subtitle or strike and announce it (`metadata_updated`)."""
        m = self.get_market(ticker)
        data: dict[str, object] = {}
        if yes_sub_title is not None:
            m.yes_sub_title = yes_sub_title
            data["yes_sub_title"] = yes_sub_title
        if strike_type is not None:
            m.strike_type = strike_type
            data["strike_type"] = strike_type
        if floor_strike is not None:
            m.floor_strike = Decimal(floor_strike)
            data["floor_strike"] = _json_number(m.floor_strike)
        if cap_strike is not None:
            m.cap_strike = Decimal(cap_strike)
            data["cap_strike"] = _json_number(m.cap_strike)
        if data:
            m.updated_time = self.now
            self._lifecycle(m, "metadata_updated", **data)

    # ------------------------------------------------------------------ invariants

    def check_invariants(self) -> None:
        """Raise AssertionError when the book, the contracts or the money do not add up (see module doc)."""
        cash = sum((a.balance + a.reserved for a in self.accounts.values()), ZERO)
        deposits = sum((a.deposited for a in self.accounts.values()), ZERO)
        assert cash + self.open_contracts + self.fees_collected == deposits, (
            cash,
            self.open_contracts,
            deposits,
        )
        for a in self.accounts.values():
            assert a.balance >= 0, (a.user_id, a.balance)
            assert set(a.open_orders) == {oid for oid, o in a.orders.items() if o.is_resting}, a.user_id
        for m in self.markets.values():
            longs = sum(
                (
                    a.positions[m.ticker].position
                    for a in self.accounts.values()
                    if m.ticker in a.positions and a.positions[m.ticker].position > 0
                ),
                ZERO,
            )
            shorts = sum(
                (
                    -a.positions[m.ticker].position
                    for a in self.accounts.values()
                    if m.ticker in a.positions and a.positions[m.ticker].position < 0
                ),
                ZERO,
            )
            assert longs == shorts == m.open_interest, (m.ticker, longs, shorts, m.open_interest)
            if m.yes_book and m.no_book:
                assert max(m.yes_book) + max(m.no_book) < ONE, (m.ticker, max(m.yes_book), max(m.no_book))
            for side in (m.yes_book, m.no_book):
                for price, queue in side.items():
                    assert queue, (m.ticker, price)
                    for o in queue:
                        assert o.is_resting and o.remaining_count > 0
                        assert o.reserved == o.remaining_count * o.own_price


def _from_unix(ts: object) -> datetime:
    try:
        return datetime.fromtimestamp(int(ts), UTC)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ExchangeError(
            400, "invalid_parameters", "expiration_time must be a Unix timestamp in seconds"
        ) from exc


def _json_number(d: Decimal) -> int | float:
    """A strike as a JSON number (Kalshi sends strikes as numbers, not strings)."""
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def floor_cents(d: Decimal) -> int:
    return int((d * 100).to_integral_value(rounding=ROUND_FLOOR))
