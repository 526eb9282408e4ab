"""Decimal column shapes shared by every app's models (typed so `DecimalField(**PRICE)` type-checks)."""

from __future__ import annotations

from typing import TypedDict


class Digits(TypedDict):
    max_digits: int
    decimal_places: int


# A price in dollars on a sub-penny grid (Kalshi sends up to 4 places).
PRICE: Digits = {"max_digits": 8, "decimal_places": 4}
# Contracts, in 0.01 steps (Kalshi's `_fp` counts).
COUNT: Digits = {"max_digits": 16, "decimal_places": 2}
# Dollars: fees, average fill prices, notional limits (6 places keep averages exact enough).
MONEY: Digits = {"max_digits": 18, "decimal_places": 6}
