"""The Decimal scalar: money, prices and counts, serialized as a string ("0.42"); input accepts a string or a
number (a number is read through its decimal text, so 0.42 is 0.42, never 0.41999…)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry

ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError('Expected a decimal number, as a string ("0.42") or a number.')
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str) or not ASCII_NUMBER.fullmatch(value.strip()):
        raise ValueError('Expected a decimal number written with the digits 0-9 (e.g. "0.42").')
    try:
        return Decimal(value.strip())
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise ValueError("Expected a decimal number.") from None


def serialize_decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='A decimal number as a string ("0.42"): dollars for money and prices, contracts for counts. '
    "Input accepts a string or a number.",
    serialize=serialize_decimal,
    parse_value=parse_decimal,
)
