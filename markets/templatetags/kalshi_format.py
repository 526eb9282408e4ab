"""Number formatting as Kalshi traders read it: 42¢ (4.2¢ sub-penny), $1,234.56, 1,250 / 2.50 contracts."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import timezone

from markets.models import dom_id

register = template.Library()


def to_decimal(value: object) -> Decimal | None:
    """A template value as Decimal (None for empty or unparseable values)."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def cents(value: object) -> str:
    """A dollar price as cents: Decimal("0.42") → "42¢", Decimal("0.042") → "4.2¢"; None → "—"."""
    number = cents_value(value)
    return f"{number}¢" if number else "—"


@register.filter
def cents_value(value: object) -> str:
    """A dollar price as a number of cents for a form field or data attribute: "0.42" → "42", "0.042" → "4.2"."""
    price = to_decimal(value)
    if price is None:
        return ""
    c = (price * 100).normalize()
    return str(int(c)) if c == c.to_integral_value() else f"{c:f}"


@register.filter
def signed_cents(value: object) -> str:
    price = to_decimal(value)
    if price is None:
        return "—"
    if price == 0:
        return "0¢"
    sign = "+" if price > 0 else "−"
    return sign + cents(abs(price))


@register.filter
def money(value: object) -> str:
    amount = to_decimal(value)
    if amount is None:
        return "—"
    q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "−" if q < 0 else ""
    return f"{sign}${abs(q):,.2f}"


@register.filter
def contracts(value: object) -> str:
    count = to_decimal(value)
    if count is None:
        return "—"
    if count == count.to_integral_value():
        return f"{int(count):,}"
    return f"{count.quantize(Decimal('0.01')):,.2f}"


@register.filter
def chance(value: object) -> str:
    price = to_decimal(value)
    if price is None:
        return "—"
    return f"{(price * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP)}%"


@register.filter
def domid(value: object) -> str:
    """A ticker made safe for an element id and a CSS selector (dots and odd characters → _)."""
    return dom_id(value)


@register.filter
def closes_in(value: datetime | None) -> str:
    if value is None:
        return "—"
    delta = value - timezone.now()
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "closed"
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    if days:
        return f"in {days}d {hours}h"
    if hours:
        return f"in {hours}h {minutes}m"
    return f"in {minutes}m"
