"""Kalshi's fixed-point strings for prices and counts, as pure functions of a Decimal.

A leaf module, so engine-side code (candles) can format numbers without importing the wire module.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

_Q4 = Decimal("0.0001")
_Q2 = Decimal("0.01")


def dollars(d: Decimal) -> str:
    """Price / dollar amount with 4 decimals: Decimal('0.42') -> '0.4200'."""
    return str(Decimal(d).quantize(_Q4, rounding=ROUND_HALF_EVEN))


def count_fp(d: Decimal) -> str:
    """Contract count with 2 decimals: Decimal('10') -> '10.00'."""
    return str(Decimal(d).quantize(_Q2, rounding=ROUND_HALF_EVEN))
