"""Price grids ("price level structures", protocol §5.3).

A market's `price_ranges` is authoritative: a price is valid when it lies inside one range and sits on
that range's step, measured from the range start. Tradable prices are strictly inside (0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclass(frozen=True)
class PriceRange:
    start: Decimal
    end: Decimal
    step: Decimal


def _r(start: str, end: str, step: str) -> PriceRange:
    return PriceRange(Decimal(start), Decimal(end), Decimal(step))


STRUCTURES: dict[str, list[PriceRange]] = {
    "linear_cent": [_r("0.0000", "1.0000", "0.0100")],
    "deci_cent": [_r("0.0000", "1.0000", "0.0010")],
    "tapered_deci_cent": [
        _r("0.0000", "0.1000", "0.0010"),
        _r("0.1000", "0.9000", "0.0100"),
        _r("0.9000", "1.0000", "0.0010"),
    ],
    "center_whole_edge_half_cent": [
        _r("0.0000", "0.1000", "0.0050"),
        _r("0.1000", "0.9000", "0.0100"),
        _r("0.9000", "1.0000", "0.0050"),
    ],
}


def ranges_for(structure: str) -> list[PriceRange]:
    return list(STRUCTURES[structure])


def on_grid(price: Decimal, ranges: list[PriceRange]) -> bool:
    """True when `price` is a valid order price: strictly inside (0, 1) and on one range's step."""
    if not (Decimal(0) < price < Decimal(1)):
        return False
    for r in ranges:
        if r.start <= price <= r.end and (price - r.start) % r.step == 0:
            return True
    return False


def min_step(ranges: list[PriceRange]) -> Decimal:
    return min(r.step for r in ranges)


def snap(price: Decimal, ranges: list[PriceRange], *, down: bool = True) -> Decimal:
    """Nearest on-grid price at or below (down) / at or above `price`, clamped into the tradable range."""
    step = min_step(ranges)
    lo, hi = step, 1 - step
    n = (price / step).to_integral_value(rounding=ROUND_FLOOR if down else ROUND_CEILING)
    p = min(max(n * step, lo), hi)
    while not on_grid(p, ranges):
        p = p - step if down else p + step
        if p < lo:
            return snap(lo, ranges, down=False)
        if p > hi:
            return snap(hi, ranges, down=True)
    return p
