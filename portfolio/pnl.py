"""Profit and loss from fills and settlements: pure arithmetic in Decimal, no Django, no I/O.

Accounting convention (the one Kalshi reports in GET /portfolio/positions, and the simulator implements)
--------------------------------------------------------------------------------------------------------
* Every fill is a *purchase of one leg*: a `bid` buys YES at the YES price p, an `ask` buys NO at 1 − p
  ("selling YES" and "buying NO" are the same trade on Kalshi). A position is one signed number:
  > 0 YES contracts, < 0 NO contracts. Nobody holds both legs of one market.
* Buying the leg opposite to what you hold *closes pairs*: one YES + one NO are worth exactly $1, paid to
  you at once. Closing `c` contracts of a leg held at average cost `a`, by buying the other leg at price `q`,
  realizes `c × (1 − q) − c × a` (you effectively sold the held leg at 1 − q). What is left over opens a
  position in the bought leg (a flip).
* Cost basis is the **average cost** of the contracts still held (`cost`, Kalshi's
  `market_exposure_dollars`); a partial close removes its proportional share of the basis (rounded to
  1e-10 dollars, so all amounts stay exact decimals; Kalshi reports them to 1e-4).
* Realized P&L **excludes fees** (Kalshi's `realized_pnl_dollars`); fees are accumulated separately
  (`fees_paid_dollars`). Net P&L = realized − fees (+ unrealized).
* Settlement pays $1 per winning contract (the YES holder when the market resolves yes, the NO holder
  when it resolves no) and realizes `payout − cost`; the position closes.
* Unrealized P&L at a mark m (a YES price): YES holders are worth `n × m`, NO holders `n × (1 − m)`;
  unrealized = value − cost. The mark is the book mid when both sides are quoted, else the last trade.

With these rules cash is conserved exactly, whatever the sequence (tested with hypothesis):
``cash = realized − cost − fees`` where `cash` is the net money received (payouts and pair releases
minus money paid for contracts and fees).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
BASIS_QUANTUM = Decimal("1e-10")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill as the account saw it."""

    ticker: str
    book_side: str  # "bid" buys YES, "ask" buys NO
    yes_price: Decimal
    count: Decimal
    fee: Decimal = ZERO

    @property
    def leg(self) -> str:
        return "yes" if self.book_side == "bid" else "no"

    @property
    def price(self) -> Decimal:
        """The price paid for the leg bought."""
        return self.yes_price if self.book_side == "bid" else ONE - self.yes_price


@dataclass(slots=True)
class MarketPnl:
    ticker: str
    position: Decimal = ZERO  # > 0 YES, < 0 NO
    cost: Decimal = ZERO  # basis of the contracts held
    realized: Decimal = ZERO  # excludes fees
    fees: Decimal = ZERO
    cash: Decimal = ZERO  # net money in (+) / out (−) of the account for this market
    total_traded: Decimal = ZERO  # dollars spent buying either leg
    volume: Decimal = ZERO
    settled: str = ""  # the result once settled ("yes"/"no"/"scalar")

    @property
    def side(self) -> str:
        if self.position > 0:
            return "yes"
        if self.position < 0:
            return "no"
        return ""

    @property
    def contracts(self) -> Decimal:
        return abs(self.position)

    @property
    def average_cost(self) -> Decimal | None:
        """Average price paid per contract held, in the held leg's terms."""
        return self.cost / self.contracts if self.position else None

    def apply(self, trade: Trade) -> None:
        q, price = trade.count, trade.price
        if q <= 0:
            raise ValueError("a fill has a positive count")
        held = -self.position if trade.leg == "yes" else self.position  # contracts of the other leg
        close = min(q, max(held, ZERO))
        if close:
            # The share of the basis, kept to BASIS_QUANTUM so every amount stays exact (a full close
            # removes exactly the whole basis, and cash conservation holds to the last digit).
            basis = (self.cost * close / held).quantize(BASIS_QUANTUM, rounding=ROUND_HALF_EVEN)
            self.cost -= basis
            self.realized += close * (ONE - price) - basis
            self.cash += close  # each YES+NO pair is released for $1
        opened = q - close
        self.cost += opened * price
        self.cash -= q * price + trade.fee
        self.position += q if trade.leg == "yes" else -q
        if not self.position:
            self.cost = ZERO
        self.fees += trade.fee
        self.total_traded += q * price
        self.volume += q
        self.settled = ""

    def settle(self, result: str, yes_value: Decimal | None = None) -> Decimal:
        """Close the position at settlement; returns the payout. A scalar market pays `yes_value` dollars per
        YES contract and the rest of the dollar per NO contract (Kalshi's settlement `value`)."""
        if result == "yes":
            payout = max(self.position, ZERO)
        elif result == "no":
            payout = max(-self.position, ZERO)
        elif result == "scalar":
            if yes_value is None or not ZERO <= yes_value <= ONE:
                raise ValueError(f"a scalar settlement needs a YES value between 0 and 1, not {yes_value!r}")
            payout = self.position * yes_value if self.position > 0 else -self.position * (ONE - yes_value)
        else:
            raise ValueError(f"unsupported market result {result!r}")
        self.realized += payout - self.cost
        self.cash += payout
        self.position = ZERO
        self.cost = ZERO
        self.settled = result
        return payout

    def value_at(self, mark: Decimal | None) -> Decimal | None:
        """What the held contracts are worth at a YES mark price."""
        if not self.position:
            return ZERO
        if mark is None:
            return None
        return self.position * mark if self.position > 0 else -self.position * (ONE - mark)

    def unrealized_at(self, mark: Decimal | None) -> Decimal | None:
        value = self.value_at(mark)
        return None if value is None else value - self.cost

    def payout_if(self, result: str) -> Decimal:
        """What the held contracts pay if the market resolves `result`."""
        if result == "yes":
            return max(self.position, ZERO)
        return max(-self.position, ZERO)


@dataclass(slots=True)
class Ledger:
    """All markets of one account."""

    markets: dict[str, MarketPnl] = field(default_factory=dict)

    def market(self, ticker: str) -> MarketPnl:
        pnl = self.markets.get(ticker)
        if pnl is None:
            pnl = self.markets[ticker] = MarketPnl(ticker)
        return pnl

    def apply(self, trade: Trade) -> MarketPnl:
        pnl = self.market(trade.ticker)
        pnl.apply(trade)
        return pnl

    def settle(self, ticker: str, result: str, yes_value: Decimal | None = None) -> Decimal:
        return self.market(ticker).settle(result, yes_value)

    @property
    def realized(self) -> Decimal:
        return sum((m.realized for m in self.markets.values()), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((m.fees for m in self.markets.values()), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((m.cost for m in self.markets.values()), ZERO)

    @property
    def cash(self) -> Decimal:
        return sum((m.cash for m in self.markets.values()), ZERO)

    def open_positions(self) -> list[MarketPnl]:
        return [m for m in self.markets.values() if m.position]


def build_ledger(events: Iterable[Trade | tuple[str, str] | tuple[str, str, Decimal | None]]) -> Ledger:
    """Replay fills (`Trade`) and settlements (`(ticker, result)`, or `(ticker, "scalar", yes_value)`) in
    time order."""
    ledger = Ledger()
    for event in events:
        if isinstance(event, Trade):
            ledger.apply(event)
        else:
            ledger.settle(*event)
    return ledger


@dataclass(frozen=True, slots=True)
class Mark:
    price: Decimal | None
    source: str  # "mid" | "last" | "" (no price)


def mark_from_quote(quote: Mapping[str, object] | None) -> Mark:
    """The YES mark: the book mid when both sides are quoted, else the last trade price."""
    if not quote:
        return Mark(None, "")

    def dec(name: str) -> Decimal | None:
        value = quote.get(name)
        if value is None or value == "":
            return None
        return Decimal(str(value))

    bid, ask, last = dec("yes_bid"), dec("yes_ask"), dec("last_price")
    if bid is not None and ask is not None and bid > 0 and ask < ONE:
        return Mark((bid + ask) / 2, "mid")
    if last is not None and last > 0:
        return Mark(last, "last")
    return Mark(None, "")


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    ticker: str  # "" for "none of the held markets"
    payoff: Decimal  # payout minus the cost basis of the event's positions
    fees: Decimal = ZERO  # the fees paid on the fills in the event's held markets

    @property
    def net(self) -> Decimal:
        """What the outcome leaves the trader with after the fees they paid (what the portfolio shows)."""
        return self.payoff - self.fees


def event_payoffs(
    positions: Iterable[MarketPnl], labels: Mapping[str, str], *, include_other: bool
) -> list[Outcome]:
    """For a mutually exclusive event: the account's gain or loss if each outcome happens.

    Outcome "ticker T" means T resolves YES and every other market of the event resolves NO. With
    `include_other`, one more outcome: none of the held markets resolves YES."""
    held = [p for p in positions if p.position]
    cost = sum((p.cost for p in held), ZERO)
    fees = sum((p.fees for p in held), ZERO)
    outcomes = []
    for winner in held:
        payout = sum((p.payout_if("yes" if p is winner else "no") for p in held), ZERO)
        outcomes.append(Outcome(labels.get(winner.ticker, winner.ticker), winner.ticker, payout - cost, fees))
    if include_other:
        payout = sum((p.payout_if("no") for p in held), ZERO)
        outcomes.append(Outcome("any other outcome", "", payout - cost, fees))
    return outcomes


def max_loss(positions: Iterable[MarketPnl], payoffs: Iterable[Outcome] | None = None) -> Decimal:
    """Worst case against the cost basis: a mutually exclusive event's worst outcome, otherwise every
    position expiring worthless (each market can go against you independently)."""
    if payoffs is not None:
        worst = min((o.payoff for o in payoffs), default=ZERO)
        return max(-worst, ZERO)
    return sum((p.cost for p in positions if p.position), ZERO)
