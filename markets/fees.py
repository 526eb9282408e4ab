"""The fee schedule a market trades under and what it charges (issue #15 item 4).

Kalshi's taker fee is 0.07 × C × P × (1 − P) rounded up to the cent, scaled by the schedule's multiplier; the
maker-fee schedules also charge a resting order 0.0175 × C × P × (1 − P) when it fills; "flat" is taken as
1 cent per contract (× multiplier). The schedule is the series' unless the event carries an override.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from markets.models import Event, Market

CENT = Decimal("0.01")
TAKER_RATE = Decimal("0.07")
MAKER_RATE = Decimal("0.0175")
FLAT_PER_CONTRACT = Decimal("0.01")
MAKER_FEE_TYPES = frozenset({"quadratic_with_maker_fees", "quadratic_with_combo_maker_fees"})
DEFAULT = ("quadratic", Decimal(1))


def schedule_for(market: Market) -> tuple[str, Decimal]:
    """(fee_type, multiplier) for `market` now: its event's override, else its series' schedule."""
    row = (
        Market.objects.filter(ticker=market.ticker)
        .values(
            "series__fee_type",
            "series__fee_multiplier",
            "event__fee_type_override",
            "event__fee_multiplier_override",
        )
        .first()
    )
    if row is None:
        return DEFAULT
    fee_type = row["series__fee_type"] or "quadratic"
    multiplier = row["series__fee_multiplier"] if row["series__fee_multiplier"] is not None else Decimal(1)
    if row["event__fee_type_override"]:
        fee_type = row["event__fee_type_override"]
    if row["event__fee_multiplier_override"] is not None:
        multiplier = row["event__fee_multiplier_override"]
    return fee_type, Decimal(multiplier)


def taker_fee(count: Decimal, price: Decimal, schedule: tuple[str, Decimal] = DEFAULT) -> Decimal:
    if count <= 0:
        return Decimal("0")
    fee_type, multiplier = schedule
    if fee_type == "flat":
        amount = FLAT_PER_CONTRACT * multiplier * count
    else:
        amount = TAKER_RATE * multiplier * count * price * (1 - price)
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def maker_fee(count: Decimal, price: Decimal, schedule: tuple[str, Decimal] = DEFAULT) -> Decimal:
    fee_type, multiplier = schedule
    if count <= 0 or fee_type not in MAKER_FEE_TYPES:
        return Decimal("0")
    return (MAKER_RATE * multiplier * count * price * (1 - price)).quantize(CENT, rounding=ROUND_CEILING)


def describe(schedule: tuple[str, Decimal]) -> str:
    fee_type, multiplier = schedule
    label = fee_type.replace("_", " ")
    return label if multiplier == 1 else f"{label} ×{multiplier.normalize():f}"


def set_event_override(event_ticker: str, fee_type: str | None, multiplier: Decimal | None) -> list[str]:
    """Store an event's fee override (None, None: cleared); the tickers of its markets (to tell their pages)."""
    Event.objects.filter(event_ticker=event_ticker).update(
        fee_type_override=fee_type or "", fee_multiplier_override=multiplier
    )
    return list(Market.objects.filter(event_id=event_ticker).values_list("ticker", flat=True))
