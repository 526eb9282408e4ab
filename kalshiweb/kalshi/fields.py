"""Strict field readers shared by the REST models and the WS messages.

Every reader takes the object name and the field name so a failure says exactly what was wrong:
``ProtocolError("Market is missing required field 'yes_bid_dollars'")``. Dollar and count fields must be JSON
strings (Kalshi's fixed-point types); a number where a string belongs is a protocol error, never coerced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ProtocolError

CENT_COUNT = Decimal("0.01")
PRICE_PLACES = Decimal("0.0001")
ONE = Decimal(1)
ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_MISSING = object()


def missing(obj: str, field: str) -> ProtocolError:
    return ProtocolError(f"{obj} is missing required field {field!r}", obj=obj, field=field)


def wrong(obj: str, field: str, expected: str, value: Any) -> ProtocolError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ProtocolError(
        f"{obj}.{field} must be {expected}, got {type(value).__name__} {shown}", obj=obj, field=field
    )


def require_mapping(obj: str, value: Any, field: str = "<body>") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise wrong(obj, field, "an object", value)
    return value


def require(obj: str, d: Mapping[str, Any], fields: Iterable[str]) -> None:
    for f in fields:
        if f not in d:
            raise missing(obj, f)


def reject_legacy(obj: str, d: Mapping[str, Any], legacy: Mapping[str, str]) -> None:
    """Fail on fields Kalshi has removed: their presence means the peer speaks an old protocol version."""
    for f, why in legacy.items():
        if f in d:
            raise ProtocolError(
                f"{obj} carries legacy field {f!r} ({why}); the peer speaks a removed protocol version",
                obj=obj,
                field=f,
            )


def get(obj: str, d: Mapping[str, Any], field: str, *, optional: bool = False) -> Any:
    value = d.get(field, _MISSING)
    if value is _MISSING:
        if optional:
            return None
        raise missing(obj, field)
    return value


def _decimal(obj: str, field: str, value: Any, what: str) -> Decimal:
    if not isinstance(value, str):
        raise wrong(obj, field, f"a {what} string", value)
    try:
        dec = Decimal(value)
    except InvalidOperation:
        raise wrong(obj, field, f"a {what} string", value) from None
    if not dec.is_finite():
        raise wrong(obj, field, f"a finite {what} string", value)
    return dec


def parse_dollars(obj: str, field: str, value: Any) -> Decimal:
    """A FixedPointDollars string (``"0.4200"``, ``"0.420"``, ``"0.010000"``), parsed by value."""
    return _decimal(obj, field, value, "dollar")


def parse_count(obj: str, field: str, value: Any) -> Decimal:
    """A FixedPointCount string (``"10.00"``); returned with exactly 2 places. Finer values are an error."""
    dec = _decimal(obj, field, value, "count")
    q = dec.quantize(CENT_COUNT)
    if q != dec:
        raise wrong(obj, field, "a count with at most 2 decimals", value)
    return q


def dollars(obj: str, d: Mapping[str, Any], field: str) -> Decimal:
    return parse_dollars(obj, field, get(obj, d, field))


def opt_dollars(obj: str, d: Mapping[str, Any], field: str) -> Decimal | None:
    value = d.get(field)
    if value is None or value == "":
        return None
    return parse_dollars(obj, field, value)


def count(obj: str, d: Mapping[str, Any], field: str) -> Decimal:
    return parse_count(obj, field, get(obj, d, field))


def opt_count(obj: str, d: Mapping[str, Any], field: str) -> Decimal | None:
    value = d.get(field)
    if value is None or value == "":
        return None
    return parse_count(obj, field, value)


def string(obj: str, d: Mapping[str, Any], field: str) -> str:
    value = get(obj, d, field)
    if not isinstance(value, str):
        raise wrong(obj, field, "a string", value)
    return value


def opt_string(obj: str, d: Mapping[str, Any], field: str) -> str | None:
    value = d.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong(obj, field, "a string", value)
    return value


def nullable_string(obj: str, d: Mapping[str, Any], field: str) -> str | None:
    """Required key whose value may be null."""
    get(obj, d, field)
    return opt_string(obj, d, field)


def integer(obj: str, d: Mapping[str, Any], field: str) -> int:
    value = get(obj, d, field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong(obj, field, "an integer", value)
    return value


def opt_integer(obj: str, d: Mapping[str, Any], field: str) -> int | None:
    value = d.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong(obj, field, "an integer", value)
    return value


def boolean(obj: str, d: Mapping[str, Any], field: str) -> bool:
    value = get(obj, d, field)
    if not isinstance(value, bool):
        raise wrong(obj, field, "a boolean", value)
    return value


def opt_boolean(obj: str, d: Mapping[str, Any], field: str) -> bool | None:
    value = d.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise wrong(obj, field, "a boolean", value)
    return value


def parse_rfc3339(obj: str, field: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise wrong(obj, field, "an RFC3339 timestamp string", value)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise wrong(obj, field, "an RFC3339 timestamp string", value) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def timestamp(obj: str, d: Mapping[str, Any], field: str) -> datetime:
    return parse_rfc3339(obj, field, get(obj, d, field))


def opt_timestamp(obj: str, d: Mapping[str, Any], field: str) -> datetime | None:
    value = d.get(field)
    if value is None or value == "":
        return None
    return parse_rfc3339(obj, field, value)


def from_unix_s(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def from_unix_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def unix_s(obj: str, d: Mapping[str, Any], field: str) -> datetime:
    return from_unix_s(integer(obj, d, field))


def opt_unix_s(obj: str, d: Mapping[str, Any], field: str) -> datetime | None:
    value = opt_integer(obj, d, field)
    return None if value is None else from_unix_s(value)


def unix_ms(obj: str, d: Mapping[str, Any], field: str) -> datetime:
    return from_unix_ms(integer(obj, d, field))


def opt_unix_ms(obj: str, d: Mapping[str, Any], field: str) -> datetime | None:
    value = opt_integer(obj, d, field)
    return None if value is None else from_unix_ms(value)


def levels(
    obj: str, d: Mapping[str, Any], field: str, *, optional: bool = False
) -> tuple[tuple[Decimal, Decimal], ...]:
    """``[[price$, count#], ...]`` → tuple of (Decimal price, Decimal count)."""
    value = d.get(field, _MISSING)
    if value is _MISSING or value is None:
        if optional:
            return ()
        raise missing(obj, field)
    if not isinstance(value, list):
        raise wrong(obj, field, "a list of [price, count] pairs", value)
    out: list[tuple[Decimal, Decimal]] = []
    for i, level in enumerate(value):
        name = f"{field}[{i}]"
        if not isinstance(level, (list, tuple)) or len(level) != 2:
            raise wrong(obj, name, "a [price, count] pair", level)
        out.append((parse_dollars(obj, name, level[0]), parse_count(obj, name, level[1])))
    return tuple(out)


def format_price(price: Decimal) -> str:
    """Dollar string with 4 places for requests (``Decimal("0.42")`` → ``"0.4200"``)."""
    q = Decimal(price).quantize(PRICE_PLACES)
    if q != price:
        raise ValueError(f"price {price} has more than 4 decimals")
    return f"{q:f}"


def format_count(value: Decimal | int) -> str:
    dec = Decimal(value)
    q = dec.quantize(CENT_COUNT)
    if q != dec:
        raise ValueError(f"count {value} has more than 2 decimals")
    return f"{q:f}"
