"""What an order would do right now, from the feed's current book: rest or cross, fills, fee, cost, max loss."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from markets import fees

ONE = Decimal(1)
CENT = Decimal("0.01")
TAKER_FEE_RATE = Decimal("0.07")


def taker_fee(count: Decimal, price: Decimal, schedule: tuple[str, Decimal] = fees.DEFAULT) -> Decimal:
    """Kalshi's published taker fee: 0.07 × C × P × (1 − P), rounded up to the cent, under `schedule` (the
    market's fee type and multiplier: markets.fees)."""
    return fees.taker_fee(count, price, schedule)


@dataclass(frozen=True)
class Preview:
    crosses: bool
    fill_count: Decimal
    average_price: Decimal | None  # in the order's own leg
    rest_count: Decimal
    fee: Decimal
    cost: Decimal  # cash the order ties up or spends (collateral at the limit price + fee)
    max_loss: Decimal
    balance_after: Decimal | None
    stale: bool
    fee_label: str = ""  # the fee schedule the fee was computed under, when not the default
    # What the resting part pays if it fills later, on the schedules with maker fees (0 on the others).
    maker_fee: Decimal = Decimal(0)

    @property
    def verdict(self) -> str:
        if self.fill_count == 0:
            return "Rests on the book"
        if self.rest_count == 0:
            return "Crosses now: fills completely"
        return "Crosses now: fills part, rests the rest"


def _levels(book: dict[str, Any], key: str) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(r["price"])), Decimal(str(r["size"]))) for r in book.get(key) or []]


def preview_order(
    *,
    outcome: str,
    action: str,
    price: Decimal,
    count: Decimal,
    book: dict[str, Any] | None,
    balance: Decimal | None,
    position: Decimal = Decimal("0"),
    schedule: tuple[str, Decimal] = fees.DEFAULT,
) -> Preview:
    """`price` is in the chosen outcome's leg (a NO buy at 0.56 is a YES ask at 0.44)."""
    book = book or {}
    yes_bids = sorted(_levels(book, "bids"), key=lambda lv: lv[0], reverse=True)
    yes_asks = sorted(_levels(book, "asks"), key=lambda lv: lv[0])
    # Express what the order can take in its own leg, best first.
    if outcome == "yes" and action == "buy":
        avail = [(p, s) for p, s in yes_asks if p <= price]
    elif outcome == "yes":
        avail = [(p, s) for p, s in yes_bids if p >= price]
    elif action == "buy":
        avail = [(ONE - p, s) for p, s in yes_bids if ONE - p <= price]
    else:
        avail = [(ONE - p, s) for p, s in yes_asks if ONE - p >= price]
    remaining, spent, fee = count, Decimal(0), Decimal(0)
    for level_price, size in avail:
        if remaining <= 0:
            break
        take = min(remaining, size)
        spent += take * level_price
        fee += taker_fee(take, level_price if outcome == "yes" else ONE - level_price, schedule)
        remaining -= take
    filled = count - remaining
    average = (spent / filled).quantize(Decimal("0.0001")) if filled else None
    # Collateral: a buy pays its price; a sell that does not close a position opens the other leg at 1 − price.
    if action == "buy":
        cost = spent + remaining * price
    else:
        held = position if outcome == "yes" else -position
        closing = max(min(count, held), Decimal(0))
        cost = (count - closing) * (ONE - price)
    cost = (cost + fee).quantize(CENT, rounding=ROUND_CEILING)
    maker = fees.maker_fee(remaining, price, schedule)
    max_loss = cost + maker  # were the resting part to fill, its maker fee is paid too
    return Preview(
        crosses=filled > 0,
        fill_count=filled,
        average_price=average,
        rest_count=remaining,
        fee=fee,
        cost=cost,
        max_loss=max_loss,
        balance_after=None if balance is None else balance - cost,
        stale=bool(book.get("stale")) or not book,
        fee_label="" if schedule == fees.DEFAULT else fees.describe(schedule),
        maker_fee=maker,
    )
