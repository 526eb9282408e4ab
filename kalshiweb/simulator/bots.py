"""Background traders that keep the simulated markets alive.

`activity` is the expected number of bot actions per open market per minute of simulated time. Each
action is either a requote by the market maker "sim-mm" around a fair value that follows a random walk,
or a small immediate-or-cancel order by "sim-taker" that crosses the spread. Both accounts are funded
with a huge balance. Bots never raise: any ExchangeError is swallowed and the action skipped.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from kalshiweb.simulator.grid import min_step, snap
from kalshiweb.simulator.model import ACTIVE, ASK, BID, GTC, IOC, Account, ExchangeError, Market, Order


class Venue(Protocol):
    """What the bots need from an exchange (`engine.Exchange` is one)."""

    @property
    def now(self) -> datetime: ...
    @property
    def rng(self) -> random.Random: ...
    @property
    def activity(self) -> float: ...
    @property
    def markets(self) -> dict[str, Market]: ...
    @property
    def accounts(self) -> dict[str, Account]: ...
    @property
    def orders(self) -> dict[str, Order]: ...

    def add_account(self, user_id: str, balance: Decimal | None = None) -> Account: ...
    def cancel_order(self, user_id: str, order_id: str) -> tuple[Order, Decimal]: ...
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
    ) -> Order: ...


MM = "sim-mm"
TAKER = "sim-taker"
BOT_BALANCE = Decimal("1000000000")
MAX_ACTIONS_PER_MARKET = 20
KEEP_BOT_FILLS = 500
FAIR_MIN, FAIR_MAX = Decimal("0.02"), Decimal("0.98")


def ensure_bot_accounts(ex: Venue) -> None:
    for user in (MM, TAKER):
        if user not in ex.accounts:
            ex.add_account(user, BOT_BALANCE)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return min(MAX_ACTIONS_PER_MARKET, max(0, round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return min(k, MAX_ACTIONS_PER_MARKET)
        k += 1


def drift_fair(ex: Venue, m: Market, scale: float = 0.01) -> None:
    step = Decimal(str(round(ex.rng.gauss(0.0, scale), 4)))
    m.fair_value = min(FAIR_MAX, max(FAIR_MIN, m.fair_value + step))


def requote(ex: Venue, m: Market, levels: int = 4) -> None:
    """Replace the market maker's quotes in `m` with a fresh ladder around `m.fair_value`."""
    ensure_bot_accounts(ex)
    mm = ex.accounts[MM]
    for order in [o for o in mm.open_orders.values() if o.ticker == m.ticker]:
        try:
            ex.cancel_order(MM, order.order_id)
        except ExchangeError:
            pass
    _prune(ex)
    tick = max(min_step(m.price_ranges), Decimal("0.01"))
    half = tick * ex.rng.randint(1, 3)
    bid = snap(m.fair_value - half, m.price_ranges, down=True)
    ask = snap(m.fair_value + half, m.price_ranges, down=False)
    if ask <= bid:
        ask = snap(bid + tick, m.price_ranges, down=False)
    lo, hi = snap(Decimal(0), m.price_ranges, down=False), snap(Decimal(1), m.price_ranges, down=True)
    for k in range(levels):
        size = Decimal(ex.rng.randint(5, 250))
        b = snap(max(bid - tick * k, lo), m.price_ranges, down=True)
        a = snap(min(ask + tick * k, hi), m.price_ranges, down=False)
        for side, price in ((BID, b), (ASK, a)):
            try:
                ex.create_order(
                    MM, ticker=m.ticker, side=side, count=size, price=price,
                    time_in_force=GTC, self_trade_prevention_type="maker",
                )  # fmt: skip
            except ExchangeError:
                pass


def take(ex: Venue, m: Market) -> None:
    """A small IOC order crossing the spread, leaning towards the fair value."""
    ensure_bot_accounts(ex)
    buy = ex.rng.random() < float(m.fair_value)
    if buy and not m.no_book:
        return
    if not buy and not m.yes_book:
        return
    count = Decimal(ex.rng.randint(1, 25))
    price = m.yes_ask if buy else m.yes_bid
    try:
        ex.create_order(
            TAKER, ticker=m.ticker, side=BID if buy else ASK, count=count, price=price, time_in_force=IOC
        )
    except ExchangeError:
        pass


def _prune(ex: Venue) -> None:
    """Forget the bots' finished orders and old fills so a long simulation does not grow without bound."""
    for user in (MM, TAKER):
        acct = ex.accounts.get(user)
        if acct is None:
            continue
        if len(acct.orders) > 2000:
            for oid in [oid for oid, o in acct.orders.items() if not o.is_resting]:
                del acct.orders[oid]
                ex.orders.pop(oid, None)
        del acct.fills[KEEP_BOT_FILLS:]


def step_market(ex: Venue, m: Market) -> None:
    drift_fair(ex, m)
    if ex.rng.random() < 0.5 or not (m.yes_book and m.no_book):
        requote(ex, m)
    else:
        take(ex, m)


def run_bots(ex: Venue, elapsed_seconds: float) -> None:
    if ex.activity <= 0 or elapsed_seconds <= 0:
        return
    ensure_bot_accounts(ex)
    lam = ex.activity * elapsed_seconds / 60.0
    for m in list(ex.markets.values()):
        if m.status != ACTIVE or ex.now >= m.close_time:
            continue
        for _ in range(_poisson(ex.rng, lam)):
            try:
                step_market(ex, m)
            except ExchangeError:
                pass
