"""Formatting the portfolio needs beyond kalshi_format: signed money, shares, NO-leg prices."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from markets.templatetags.kalshi_format import cents, money
from markets.templatetags.kalshi_format import to_decimal as _dec

register = template.Library()


@register.filter
def signed_money(value: object) -> str:
    """+$1.20 / −$0.70 / $0.00; None → "—"."""
    amount = _dec(value)
    if amount is None:
        return "—"
    q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if q == 0:
        return "$0.00"
    return ("+" if q > 0 else "") + money(q)


@register.filter
def percent(value: object) -> str:
    """A fraction as a percentage: 0.125 → "12.5%"."""
    share = _dec(value)
    if share is None:
        return "—"
    return f"{(share * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


@register.filter
def no_price(value: object) -> Decimal | None:
    """The NO leg's price for a YES price."""
    price = _dec(value)
    return None if price is None else Decimal(1) - price


@register.filter
def avg_cents(value: object) -> str:
    """An average price in cents to a tenth of a cent: Decimal("0.466666…") → "46.7¢"."""
    price = _dec(value)
    if price is None:
        return "—"
    return cents(price.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))
