"""Order book maintained from a snapshot plus deltas (protocol §5).

Kalshi publishes bids only: a YES ladder and a NO ladder. A NO bid at ``q`` is a YES ask at ``1 − q``.
Internally both ladders are kept in their own leg's prices (NO in NO-leg prices); a subscription made with
``use_yes_price`` is converted on the way in.

Each ladder is a dict ``price → size`` plus a sorted list of prices: changing an existing level is O(1), adding
or removing a level is a bisect (O(log n) comparisons plus a short memmove), best bid is O(1).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .errors import ProtocolError
from .types.scalars import ONE, ZERO

YES = "yes"
NO = "no"


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: Decimal
    size: Decimal
    cumulative: Decimal


@dataclass(frozen=True, slots=True)
class FillEstimate:
    """What walking the book for ``requested`` contracts would do (fees excluded)."""

    requested: Decimal
    fillable: Decimal
    total: Decimal  # cost to buy, or proceeds of a sale, in dollars
    average_price: Decimal | None  # None when nothing is fillable
    worst_price: Decimal | None

    @property
    def complete(self) -> bool:
        return self.fillable == self.requested


class Ladder:
    """One bid ladder: ``price → size`` with prices kept sorted ascending."""

    __slots__ = ("_prices", "_sizes")

    def __init__(self, levels: Iterable[tuple[Decimal, Decimal]] = ()) -> None:
        self._sizes: dict[Decimal, Decimal] = {}
        for price, size in levels:
            if size < 0:
                raise ProtocolError(f"negative size {size} at {price}", obj="orderbook", field="size")
            if size > 0:
                self._sizes[price] = self._sizes.get(price, ZERO) + size
        self._prices: list[Decimal] = sorted(self._sizes)

    def apply(self, price: Decimal, delta: Decimal) -> Decimal:
        """Add ``delta`` to the level; returns the new size. Raises ProtocolError (leaving the level untouched)
        if the level would go negative."""
        sizes = self._sizes
        old = sizes.get(price)
        if old is None:
            if delta < 0:
                raise ProtocolError(
                    f"delta {delta} on empty level {price} would go negative",
                    obj="orderbook_delta",
                    field="delta_fp",
                )
            if delta == 0:
                return ZERO
            sizes[price] = delta
            bisect.insort(self._prices, price)
            return delta
        new = old + delta
        if new > 0:
            sizes[price] = new
            return new
        if new < 0:
            raise ProtocolError(
                f"delta {delta} on level {price} (size {old}) would go negative",
                obj="orderbook_delta",
                field="delta_fp",
            )
        del sizes[price]
        prices = self._prices
        del prices[bisect.bisect_left(prices, price)]
        return ZERO

    @property
    def best(self) -> Decimal | None:
        return self._prices[-1] if self._prices else None

    def size_at(self, price: Decimal) -> Decimal:
        return self._sizes.get(price, ZERO)

    def levels(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """Ascending by price (Kalshi's wire order, best bid last)."""
        sizes = self._sizes
        return tuple((p, sizes[p]) for p in self._prices)

    def best_first(self, n: int | None = None) -> list[tuple[Decimal, Decimal]]:
        prices = self._prices
        chosen = prices[::-1] if n is None else prices[: -n - 1 if n < len(prices) else None : -1]
        sizes = self._sizes
        return [(p, sizes[p]) for p in chosen]

    def total(self) -> Decimal:
        return sum(self._sizes.values(), ZERO)

    def __len__(self) -> int:
        return len(self._prices)


class OrderBook:
    """YES/NO bid ladders for one market."""

    __slots__ = ("last_seq", "market_ticker", "no", "stale", "stale_reason", "yes")

    def __init__(self, market_ticker: str) -> None:
        self.market_ticker = market_ticker
        self.yes = Ladder()
        self.no = Ladder()
        self.stale = True  # nothing is known until a snapshot arrives
        self.stale_reason: str | None = "no snapshot yet"
        self.last_seq: int | None = None

    @classmethod
    def from_levels(
        cls,
        market_ticker: str,
        yes: Iterable[tuple[Decimal, Decimal]],
        no: Iterable[tuple[Decimal, Decimal]],
        *,
        no_in_yes_prices: bool = False,
    ) -> OrderBook:
        book = cls(market_ticker)
        book.apply_snapshot(yes, no, no_in_yes_prices=no_in_yes_prices)
        return book

    # --- updates ------------------------------------------------------------------------------------------

    def apply_snapshot(
        self,
        yes: Iterable[tuple[Decimal, Decimal]],
        no: Iterable[tuple[Decimal, Decimal]],
        *,
        no_in_yes_prices: bool = False,
        seq: int | None = None,
    ) -> None:
        if no_in_yes_prices:
            no = [(ONE - p, s) for p, s in no]
        self.yes = Ladder(yes)
        self.no = Ladder(no)
        self.stale = False
        self.stale_reason = None
        self.last_seq = seq

    def apply_delta(
        self,
        side: str,
        price: Decimal,
        delta: Decimal,
        *,
        no_in_yes_prices: bool = False,
        seq: int | None = None,
    ) -> None:
        """Apply one delta. A delta on a stale book is refused (never apply across a gap)."""
        if self.stale:
            raise ProtocolError(
                f"book {self.market_ticker} is stale ({self.stale_reason}); wait for a snapshot",
                obj="orderbook_delta",
            )
        if side == YES:
            ladder = self.yes
        elif side == NO:
            ladder = self.no
            if no_in_yes_prices:
                price = ONE - price
        else:
            raise ProtocolError(f"unknown book side {side!r}", obj="orderbook_delta", field="side")
        try:
            ladder.apply(price, delta)
        except ProtocolError:
            self.mark_stale("a delta drove a level negative")
            raise
        if seq is not None:
            self.last_seq = seq

    def mark_stale(self, reason: str) -> None:
        self.stale = True
        self.stale_reason = reason

    # --- reads --------------------------------------------------------------------------------------------

    @property
    def best_yes_bid(self) -> Decimal | None:
        return self.yes.best

    @property
    def best_no_bid(self) -> Decimal | None:
        return self.no.best

    @property
    def best_yes_ask(self) -> Decimal | None:
        nb = self.no.best
        return None if nb is None else ONE - nb

    @property
    def best_no_ask(self) -> Decimal | None:
        yb = self.yes.best
        return None if yb is None else ONE - yb

    @property
    def spread(self) -> Decimal | None:
        """Best YES ask − best YES bid (same as the NO spread)."""
        bid, ask = self.best_yes_bid, self.best_yes_ask
        return None if bid is None or ask is None else ask - bid

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_yes_bid, self.best_yes_ask
        return None if bid is None or ask is None else (bid + ask) / 2

    def bids(self, outcome: str, n: int | None = None) -> list[DepthLevel]:
        """Best-first bids for ``outcome`` ('yes' or 'no') with cumulative sizes."""
        return _cumulate(self._ladder(outcome).best_first(n))

    def asks(self, outcome: str, n: int | None = None) -> list[DepthLevel]:
        """Best-first asks for ``outcome``: the other leg's bids at ``1 − price``."""
        other = self.no if outcome == YES else self.yes
        if outcome not in (YES, NO):
            raise ValueError(f"outcome must be 'yes' or 'no', got {outcome!r}")
        return _cumulate([(ONE - p, s) for p, s in other.best_first(n)])

    def depth(self, n: int = 10) -> dict[str, list[DepthLevel]]:
        """Top ``n`` levels on each of the four views, best first, with cumulative sizes."""
        return {
            "yes_bids": self.bids(YES, n),
            "yes_asks": self.asks(YES, n),
            "no_bids": self.bids(NO, n),
            "no_asks": self.asks(NO, n),
        }

    def cost_to_buy(self, outcome: str, count: Decimal) -> FillEstimate:
        """Walk the asks of ``outcome`` for ``count`` contracts (what a marketable buy would pay)."""
        return _walk(self.asks(outcome), Decimal(count))

    def cost_to_sell(self, outcome: str, count: Decimal) -> FillEstimate:
        """Walk the bids of ``outcome`` for ``count`` contracts (what a marketable sell would receive)."""
        return _walk(self.bids(outcome), Decimal(count))

    def levels(self) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """(yes, no) ladders ascending, NO in NO-leg prices: comparable with the REST order book."""
        return self.yes.levels(), self.no.levels()

    def _ladder(self, outcome: str) -> Ladder:
        if outcome == YES:
            return self.yes
        if outcome == NO:
            return self.no
        raise ValueError(f"outcome must be 'yes' or 'no', got {outcome!r}")

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.market_ticker!r}, yes_bid={self.best_yes_bid}, yes_ask={self.best_yes_ask}, "
            f"levels={len(self.yes)}/{len(self.no)}, stale={self.stale})"
        )


def _cumulate(levels: list[tuple[Decimal, Decimal]]) -> list[DepthLevel]:
    out = []
    total = ZERO
    for price, size in levels:
        total += size
        out.append(DepthLevel(price, size, total))
    return out


def _walk(levels: list[DepthLevel], count: Decimal) -> FillEstimate:
    if count <= 0:
        raise ValueError("count must be positive")
    remaining = count
    total = ZERO
    worst: Decimal | None = None
    for level in levels:
        if remaining <= 0:
            break
        take = min(remaining, level.size)
        total += take * level.price
        remaining -= take
        worst = level.price
    fillable = count - remaining
    avg = (total / fillable).quantize(Decimal("0.000001")) if fillable > 0 else None
    return FillEstimate(requested=count, fillable=fillable, total=total, average_price=avg, worst_price=worst)
