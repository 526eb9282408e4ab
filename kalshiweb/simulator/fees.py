"""Kalshi's published trading-fee formula.

Taker fee per fill = ceil_to_cent(0.07 x C x P x (1 - P)), where C is the contract count and P the
execution price in dollars (of either leg: P x (1 - P) is symmetric). Maker fee is zero by default,
which matches the default "quadratic" fee type of most series.

Approximation: Kalshi rounds the fee up to the cent per order execution; the simulator rounds up per
fill (one maker order hit by one taker), so a taker that sweeps several makers can pay a cent or two
more than on the real exchange.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

TAKER_FEE_RATE = Decimal("0.07")
MAKER_FEE_RATE = Decimal("0")
CENT = Decimal("0.01")


def ceil_to_cent(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def taker_fee(count: Decimal, price: Decimal) -> Decimal:
    return ceil_to_cent(TAKER_FEE_RATE * count * price * (1 - price))


def maker_fee(count: Decimal, price: Decimal) -> Decimal:
    if not MAKER_FEE_RATE:
        return Decimal("0.00")
    return ceil_to_cent(MAKER_FEE_RATE * count * price * (1 - price))


# Issue #15 breadth: each series' fee schedule. Kalshi publishes the quadratic taker formula and a maker fee of
# a quarter of it (0.0175) for the maker-fee types; "flat" is approximated as 1 cent per contract. Each is
# scaled by the series' (or the event override's) fee_multiplier.
MAKER_SCHEDULE_RATE = Decimal("0.0175")
FLAT_PER_CONTRACT = Decimal("0.01")
MAKER_FEE_TYPES = frozenset({"quadratic_with_maker_fees", "quadratic_with_combo_maker_fees"})


def schedule_fees(
    fee_type: str, multiplier: Decimal, count: Decimal, price: Decimal
) -> tuple[Decimal, Decimal]:
    """(taker fee, maker fee) of one fill of `count` contracts at `price` under a fee schedule."""
    if fee_type == "flat":
        return ceil_to_cent(FLAT_PER_CONTRACT * multiplier * count), Decimal("0.00")
    spread = count * price * (1 - price)
    taker = ceil_to_cent(TAKER_FEE_RATE * multiplier * spread)
    maker = (
        ceil_to_cent(MAKER_SCHEDULE_RATE * multiplier * spread)
        if fee_type in MAKER_FEE_TYPES
        else Decimal("0.00")
    )
    return taker, maker
