"""The simulator's matching engine: a pure, in-memory, no-I/O model of a Kalshi exchange.

`Exchange` is the facade the server and the tests call; it composes the parts and owns the clock:

* model.py      plain records and constants (Market, Order, Fill, Position...), `ExchangeError`
* events.py     what the engine announces (BookDelta, TickerUpdate, ...) and the `EventBus`
* core.py       state every part shares: clock, ids, rng, market registry, ticker bookkeeping
* ledger.py     accounts, positions, settlement payouts, the money invariant
* matching.py   the order book: create / amend / decrease / cancel, matching and fills
* lifecycle.py  series, events, markets and their status changes (close, determine, settle, pause...)
* bots.py, catalog.py, candles.py   background traders, the default catalog, candlesticks

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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kalshiweb.simulator import bots, candles
from kalshiweb.simulator import catalog as catalog_module
from kalshiweb.simulator.cash import Cash
from kalshiweb.simulator.core import Core
from kalshiweb.simulator.events import (
    BookDelta,
    FillEvent,
    LifecycleEvent,
    OrderUpdate,
    PositionUpdate,
    SimEvent,
    TickerUpdate,
    TradeEvent,
)
from kalshiweb.simulator.history import History
from kalshiweb.simulator.ledger import Ledger
from kalshiweb.simulator.lifecycle import Lifecycle
from kalshiweb.simulator.matching import Matcher
from kalshiweb.simulator.model import (
    ACTIVE,
    ASK,
    BID,
    CANCELED,
    CLOSED,
    DETERMINED,
    EXECUTED,
    FINALIZED,
    FOK,
    GTC,
    INACTIVE,
    INITIALIZED,
    IOC,
    ONE,
    RESTING,
    ZERO,
    Account,
    Event,
    ExchangeError,
    Fill,
    Market,
    Order,
    Position,
    Series,
    Settlement,
    Trade,
    floor_cents,
    unix,
    unix_ms,
)
from kalshiweb.simulator.order_groups import OrderGroups
from kalshiweb.simulator.rfq import Communications
from kalshiweb.simulator.subaccounts import Subaccounts

log = logging.getLogger(__name__)

# Re-exported: callers (server, wire, tests) have always imported the engine's vocabulary from here.
__all__ = [
    "ACTIVE", "ASK", "BID", "CANCELED", "CLOSED", "DETERMINED", "EXECUTED", "FINALIZED", "FOK", "GTC",
    "INACTIVE", "INITIALIZED", "IOC", "ONE", "RESTING", "ZERO",
    "Account", "BookDelta", "Event", "Exchange", "ExchangeError", "Fill", "FillEvent", "LifecycleEvent",
    "Market", "Order", "OrderUpdate", "Position", "PositionUpdate", "Series", "Settlement", "SimEvent",
    "TickerUpdate", "Trade", "TradeEvent", "floor_cents", "unix", "unix_ms",
]  # fmt: skip


class Exchange:
    """One simulated exchange. Reads and writes are delegated to its parts; `advance` drives the clock."""

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
        self.seed = seed
        self.activity = float(activity)
        self.default_balance = Decimal(default_balance)
        self._core = core = Core(seed=seed, now=now.astimezone(UTC))
        self.ledger = ledger = Ledger(core, self.default_balance)
        self.matcher = matcher = Matcher(core, ledger)
        self.lifecycle = lifecycle = Lifecycle(core, ledger, matcher)
        # historical data and cash history (issue #15: history)
        self.history = History(core)
        self.cash = cash = Cash(core, ledger)
        self.subaccounts = Subaccounts(core, ledger)  # issue #15: subaccounts
        self.communications = Communications(core, ledger, matcher, lifecycle)  # issue #15: combos and RFQs
        self.order_groups = OrderGroups(core, matcher)

        # The public surface, bound once (same signatures and docs as the parts'):
        self.new_id = core.new_id
        self.add_listener = core.bus.add_listener
        self.remove_listener = core.bus.remove_listener
        self.get_market = core.get_market
        # accounts
        self.add_account = cash.add_account  # the ledger's, recording the opening deposit
        self.account = ledger.account
        self.deposit = ledger.deposit
        self.position = ledger.position
        self.portfolio_value = ledger.portfolio_value
        # orders
        self.get_order = matcher.get_order
        self.find_order_by_client_id = matcher.find_order_by_client_id
        self.trades = matcher.trades
        self.cancel_order = matcher.cancel_order
        self.cancel_all = matcher.cancel_all
        self.decrease_order = matcher.decrease_order
        # catalog and lifecycle
        self.add_series = lifecycle.add_series
        self.add_event = lifecycle.add_event
        self.add_market = lifecycle.add_market
        self.close_market = lifecycle.close_market
        self.determine_market = lifecycle.determine_market
        self.settle_market = lifecycle.settle_market
        self.pause_market = lifecycle.pause_market
        self.resume_market = lifecycle.resume_market
        self.set_close_time = lifecycle.set_close_time
        self.set_price_level_structure = lifecycle.set_price_level_structure
        self.update_market_metadata = lifecycle.update_market_metadata

        if catalog:
            catalog_module.build_catalog(self)

    # ------------------------------------------------------------------ state

    @property
    def now(self) -> datetime:
        return self._core.now

    @now.setter
    def now(self, value: datetime) -> None:
        self._core.now = value

    @property
    def rng(self) -> random.Random:
        return self._core.rng

    @property
    def markets(self) -> dict[str, Market]:
        return self._core.markets

    @property
    def series(self) -> dict[str, Series]:
        return self.lifecycle.series

    @property
    def events(self) -> dict[str, Event]:
        return self.lifecycle.events

    @property
    def accounts(self) -> dict[str, Account]:
        return self.ledger.accounts

    @property
    def orders(self) -> dict[str, Order]:
        return self.matcher.orders

    @property
    def fees_collected(self) -> Decimal:
        return self.ledger.fees_collected

    @property
    def open_contracts(self) -> Decimal:
        return self.ledger.open_contracts

    def set_activity(self, rate: float) -> None:
        self.activity = max(0.0, float(rate))

    # ------------------------------------------------------------------ order writes that can fill

    def create_order(self, user_id: str, **kwargs: Any) -> Order:
        """`Matcher.create_order`, refused when its order group is triggered or unknown; a group whose limit
        the order's fills pass is tripped once the order is done."""
        groups = self.order_groups
        groups.check_order(user_id, kwargs.get("order_group_id"))
        order = self.matcher.create_order(user_id, **kwargs)
        groups.joined(order)
        groups.settle()
        return order

    def amend_order(self, user_id: str, order_id: str, **kwargs: Any) -> Order:
        """`Matcher.amend_order`; trips an order group whose limit the amended order's fills pass."""
        try:
            return self.matcher.amend_order(user_id, order_id, **kwargs)
        finally:
            self.order_groups.settle()

    # ------------------------------------------------------------------ reads

    def book(self, ticker: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        m = self.get_market(ticker)
        return m.levels("yes"), m.levels("no")

    def candlesticks(self, ticker: str, start_ts: int, end_ts: int, period_minutes: int) -> list[dict]:
        return candles.build_candlesticks(
            self.get_market(ticker), start_ts, end_ts, period_minutes, now=self._core.now
        )

    # ------------------------------------------------------------------ time

    def advance(self, now: datetime) -> None:
        """Move the clock to `now` (never back): expire orders, run the lifecycle, age the 24h volume, and
        let the bots trade for the elapsed time."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = now.astimezone(UTC)
        if now < self._core.now:
            return
        prev = self._core.now
        self._core.now = now
        self.matcher.expire_orders()
        self.lifecycle.run_lifecycle()
        self.lifecycle.roll_volume_24h()
        try:
            self.communications.tick()  # issue #15: the RFQ quoting bot
        except Exception:  # the bot must never take the exchange down
            log.exception("simulator rfq bot failed")
        if self.activity > 0:
            try:
                bots.run_bots(self, (now - prev).total_seconds())
            except Exception:  # bots must never take the exchange down
                log.exception("simulator bots failed")
        self.order_groups.settle()

    # ------------------------------------------------------------------ invariants

    def check_invariants(self) -> None:
        """Raise AssertionError when the book, the contracts or the money do not add up (see module doc)."""
        self.ledger.check_invariants()
        self.matcher.check_invariants()
