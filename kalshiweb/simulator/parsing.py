"""Request parsing and response formatting shared by the REST handlers: fixed-point counts and prices,
typed optional body fields, timestamps, and keyset pagination with opaque cursors.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kalshiweb.simulator.api import bad_request


def ts_ms() -> int:
    return int(time.time() * 1000)


def rfc3339_to_ts(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_count(value: Any, name: str = "count") -> Decimal:
    if not isinstance(value, str):
        raise bad_request(f'{name} must be a fixed-point string such as "10" or "10.00"')
    try:
        count = Decimal(value)
    except InvalidOperation:
        raise bad_request(f"{name} is not a number") from None
    if not count.is_finite() or count <= 0 or count != count.quantize(Decimal("0.01")):
        raise bad_request(f"{name} must be positive with at most 2 decimals", code="invalid_order_size")
    return count


def parse_price(value: Any, name: str = "price") -> Decimal:
    if not isinstance(value, str):
        raise bad_request(f'{name} must be a dollar string such as "0.5600"')
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise bad_request(f"{name} is not a number") from None
    if not price.is_finite() or not (Decimal(0) < price < Decimal(1)):
        raise bad_request(f"{name} must be strictly between 0 and 1", code="invalid_order")
    return price


def opt_field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"{name} has the wrong type")
    return value


def fmt_count(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def fmt_dollars(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.0001")))


def _encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise bad_request("invalid cursor") from None


def paginate[T](
    items: list[T],
    key: Callable[[T], list[Any]],
    limit: int,
    cursor: str | None,
    *,
    descending: bool = False,
) -> tuple[list[T], str]:
    """Keyset pagination: items are sorted by ``key`` (unique per item); the opaque cursor holds the key of
    the last item returned, so items added or removed meanwhile never shift a page. Empty cursor = last page."""
    items = sorted(items, key=key, reverse=descending)
    start = 0
    if cursor:
        last = _decode_cursor(cursor)
        if not isinstance(last, list):
            raise bad_request("invalid cursor")
        start = len(items)
        for i, item in enumerate(items):
            k = key(item)
            try:
                after = k < last if descending else k > last
            except TypeError:
                raise bad_request("invalid cursor") from None
            if after:
                start = i
                break
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, (_encode_cursor(key(page[-1])) if more and page else "")


def time_key(item: dict[str, Any], field_name: str, id_field: str) -> list[Any]:
    return [rfc3339_to_ts(item.get(field_name)) or 0.0, item.get(id_field) or ""]
