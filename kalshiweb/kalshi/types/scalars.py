"""Kalshi's scalar wire types, and the one decoder every wire type goes through.

Prices are ``*_dollars`` strings (FixedPointDollars, ``"0.4200"``), counts ``*_fp`` strings (FixedPointCount,
``"10.00"``). In Python both are ``Decimal``. msgspec by itself would also take a JSON *number* (and "NaN") for
a ``Decimal``; Kalshi never sends one, and a number where a string belongs means the peer changed its protocol,
so these types only accept finite decimal strings. At type-check time they are plain ``Decimal`` (so callers
pass ``Decimal``); at run time they are marker classes that make msgspec hand the JSON value to ``dec_hook``,
which returns a plain ``Decimal`` (or ``datetime``): nothing downstream (the ORM, SQLite's adapters) ever sees
a subclass.

Every decode failure becomes a ``ProtocolError`` naming the object and the field
(``ProtocolError("Market: Object missing required field `yes_bid_dollars`")``, ``.field == "yes_bid_dollars"``).
"""

from __future__ import annotations

import abc
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import ProtocolError

CENT_COUNT = Decimal("0.01")
PRICE_PLACES = Decimal("0.0001")
ONE = Decimal(1)
ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

if TYPE_CHECKING:
    Dollars = Decimal
    Count = Decimal
    SignedCount = Decimal
    Number = Decimal
    OptDollars = Decimal
    OptCount = Decimal
    OptTimestamp = datetime
    Timestamp = datetime
    UnixS = datetime
    UnixMs = datetime
else:

    class _Marker(abc.ABC):  # noqa: B024 - only registered as a virtual superclass
        pass

    class Dollars(_Marker):
        """FixedPointDollars: a decimal string, parsed by value (``"0.420"`` == ``"0.4200"``)."""

    class Count(_Marker):
        """FixedPointCount: a decimal string with at most 2 places; kept with exactly 2."""

    class SignedCount(_Marker):
        """A signed count (positions, book deltas): a decimal string with at most 2 places, kept with 2."""

    class Number(_Marker):
        """A JSON number (or numeric string) such as a fee multiplier, converted through ``str`` so no binary
        float leaks into the ``Decimal``."""

    class OptDollars(_Marker):
        """A dollar string where ``""`` (like null) means "none"; see ``blank_to_none``."""

    class OptCount(_Marker):
        """A count string where ``""`` (like null) means "none"; see ``blank_to_none``."""

    class OptTimestamp(_Marker):
        """An RFC 3339 string where ``""`` (like null) means "none"; see ``blank_to_none``."""

    class Timestamp(_Marker):
        """An RFC 3339 string; naive times are UTC; always returned in UTC."""

    class UnixS(_Marker):
        """Integer seconds since the epoch, as an aware UTC datetime."""

    class UnixMs(_Marker):
        """Integer milliseconds since the epoch, as an aware UTC datetime."""

    # Marker types: msgspec hands their values to dec_hook, which returns a plain Decimal / datetime (each
    # marker is a virtual superclass of it, so msgspec's isinstance check of the result passes).
    for _marker in (Dollars, Count, SignedCount, Number, OptDollars, OptCount):
        _marker.register(Decimal)
    for _marker in (OptTimestamp, Timestamp, UnixS, UnixMs):
        _marker.register(datetime)


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _decimal_string(value: Any, what: str) -> Decimal:
    if type(value) is not str:
        raise ValueError(f"must be a {what} string, got {type(value).__name__} {_shown(value)}")
    try:
        dec = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"must be a {what} string, got str {_shown(value)}") from None
    if not dec.is_finite():
        raise ValueError(f"must be a finite {what} string, got str {_shown(value)}")
    return dec


def _count(value: Any, what: str) -> Decimal:
    dec = _decimal_string(value, what)
    q = dec.quantize(CENT_COUNT)
    if q != dec:
        raise ValueError(f"must be a count with at most 2 decimals, got str {_shown(value)}")
    return q


def parse_rfc3339(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC3339 timestamp string, got {type(value).__name__} {_shown(value)}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be an RFC3339 timestamp string, got str {_shown(value)}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _integer(value: Any, what: str) -> int:
    if type(value) is not int:
        raise ValueError(f"must be {what}, got {type(value).__name__} {_shown(value)}")
    return value


def from_unix_s(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def from_unix_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _to_dollars(v: Any) -> Any:
    return _decimal_string(v, "dollar")


def _to_count(v: Any) -> Any:
    return _count(v, "count")


def _to_number(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError(f"must be a number, got {type(v).__name__} {_shown(v)}")
    try:
        dec = Decimal(str(v))
    except InvalidOperation:
        raise ValueError(f"must be a number, got str {_shown(v)}") from None
    return dec


_HOOKS: dict[type, Any] = {
    Dollars: _to_dollars,
    Count: _to_count,
    SignedCount: _to_count,
    Number: _to_number,
    OptDollars: lambda v: BLANK_DOLLARS if v == "" else _decimal_string(v, "dollar"),
    OptCount: lambda v: BLANK_COUNT if v == "" else _count(v, "count"),
    OptTimestamp: lambda v: BLANK_TIME if v == "" else parse_rfc3339(v),
    Timestamp: parse_rfc3339,
    UnixS: lambda v: from_unix_s(_integer(v, "integer seconds")),
    UnixMs: lambda v: from_unix_ms(_integer(v, "integer milliseconds")),
}


# What the hooks of the Opt* types return for "": msgspec wants an instance of the declared type back, so a blank
# decodes to this marker and the type's __post_init__ (``blank_to_none``) turns it into None.
# (Fresh objects: nothing else holds these very instances, so ``is`` tells a blank from a real zero.)
BLANK_DOLLARS: Any = Decimal("0")
BLANK_COUNT: Any = Decimal("0.00")
BLANK_TIME: Any = datetime(1970, 1, 1, tzinfo=UTC)


def blank_to_none(value: Any, names: tuple[str, ...]) -> None:
    for name in names:
        current = getattr(value, name)
        if current is BLANK_DOLLARS or current is BLANK_COUNT or current is BLANK_TIME:
            setattr(value, name, None)


def dec_hook(type_: type, value: Any) -> Any:
    hook = _HOOKS.get(type_)
    if hook is None:
        raise NotImplementedError(f"no decoder for {type_!r}")
    return hook(value)


def enc_hook(value: Any) -> Any:
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_MISSING_RE = re.compile(r"missing required field `([^`]+)`")
_PATH_RE = re.compile(r" - at `\$((?:\.[A-Za-z0-9_]+|\[\d+\])*)`$")


def protocol_error(obj: str, exc: msgspec.ValidationError | msgspec.DecodeError) -> ProtocolError:
    """Translate a msgspec error into the ``ProtocolError`` the rest of the client expects: it names the
    object and the field (``field`` is the last key of the path, e.g. ``price_dollars``)."""
    text = str(exc)
    missing = _MISSING_RE.search(text)
    if missing:
        field = missing.group(1)
        return ProtocolError(f"{obj} is missing required field {field!r}", obj=obj, field=field)
    at = _PATH_RE.search(text)
    where = at.group(1) if at else ""
    detail = text[: at.start()] if at else text
    parts = [p for p in re.split(r"\.|\[\d+\]", where) if p]
    field = parts[-1] if parts else None
    if field is None:
        return ProtocolError(f"{obj}: {detail}", obj=obj)
    if field == "type" and where == ".type":
        return ProtocolError(f"{obj} has an unexpected 'type': {detail}", obj=obj, field="type")
    return ProtocolError(f"{obj} field {field!r} (at {where.lstrip('.')}) {detail}", obj=obj, field=field)


def convert[T](obj: str, value: Any, type_: type[T]) -> T:
    """Decoded JSON (dicts and lists) → the wire type, or ``ProtocolError``."""
    try:
        return msgspec.convert(value, type_, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        raise protocol_error(obj, exc) from None


def decoder[T](type_: type[T]) -> msgspec.json.Decoder[T]:
    return msgspec.json.Decoder(type_, dec_hook=dec_hook)


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


def check_legacy(obj: str, value: Any) -> None:
    """Fail on fields Kalshi removed: their presence means the peer speaks an old protocol version. A wire
    type declares them as ``legacy_<name>: Any = field(name="<name>", default=UNSET)`` and lists them, with
    the reason, in its ``LEGACY`` class variable."""
    for attr, name, why in getattr(value, "LEGACY", ()):
        if getattr(value, attr) is not msgspec.UNSET:
            raise ProtocolError(
                f"{obj} carries legacy field {name!r} ({why}); the peer speaks a removed protocol version",
                obj=obj,
                field=name,
            )
