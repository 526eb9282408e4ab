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
