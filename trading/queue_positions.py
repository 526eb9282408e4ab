"""Queue positions of resting orders: the contracts resting ahead of each order at its price (issue #15).

One batched call per account (`GET /portfolio/orders/queue_positions`, through the account's token bucket)
answers for every resting order at once; the answer is kept in Redis (`kw:queue:<account id>`: exchange
order id -> contracts ahead) and shown from there. `claim_refresh` lets at most one refresh per account run
per REFRESH_SECONDS, however many tabs poll; the refresh runs in Celery (`tasks.refresh_queue_positions`), so
no page waits on Kalshi. A trader only ever sees the positions of their own orders.

For the ladder: `by_level(user, ticker)` gives {(book side, YES price): contracts ahead of the trader's
first order at that level}; the market page's trading panel offers it as `queue_by_level`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.template.loader import render_to_string

from markets import live
from trading.models import Order

log = logging.getLogger(__name__)

REFRESH_SECONDS = 3  # at most one exchange call per account per this many seconds
KEEP_SECONDS = 120  # positions older than this are not shown (the order may have moved)
_AT = "_at"


def _key(account_id: int) -> str:
    return f"kw:queue:{account_id}"


def store(account_id: int, positions: dict[str, Decimal], *, at: float | None = None) -> None:
    """Replace the account's positions with a fresh answer (orders no longer resting drop out)."""
    mapping: dict[Any, Any] = {order_id: str(count) for order_id, count in positions.items()}
    mapping[_AT] = repr(at if at is not None else time.time())
    pipe = live.client().pipeline()
    pipe.delete(_key(account_id))
    pipe.hset(_key(account_id), mapping=mapping)
    pipe.expire(_key(account_id), KEEP_SECONDS)
    pipe.execute()


def age(account_id: int) -> float | None:
    """Seconds since the stored answer, or None when there is none."""
    try:
        at = live.client().hget(_key(account_id), _AT)
    except Exception:
        return None
    return time.time() - float(at) if at else None


def claim_refresh(account_id: int) -> bool:
    """True for the one caller per REFRESH_SECONDS that should ask the exchange."""
    try:
        return bool(live.client().set(f"{_key(account_id)}:lock", "1", nx=True, ex=REFRESH_SECONDS))
    except Exception:
        return False


def _shown(order: Order) -> bool:
    return order.status == Order.Status.RESTING and bool(order.exchange_order_id)


def positions_for(orders: Iterable[Order]) -> dict[int, Decimal]:
    """{order pk: contracts ahead} for those of `orders` that rest and have a stored position."""
    by_account: dict[int, list[Order]] = {}
    for order in orders:
        if _shown(order):
            by_account.setdefault(order.account_id, []).append(order)
    out: dict[int, Decimal] = {}
    for account_id, rows in by_account.items():
        try:
            values = live.client().hmget(_key(account_id), [str(o.exchange_order_id) for o in rows])
        except Exception:
            continue
        for order, raw in zip(rows, values, strict=True):
            if raw is None:
                continue
            try:
                out[order.pk] = Decimal(raw.decode() if isinstance(raw, bytes) else raw)
            except InvalidOperation:
                continue
    return out


def ahead(order: Order) -> Decimal | None:
    return positions_for([order]).get(order.pk)


def by_level(user: Any, ticker: str) -> dict[tuple[str, Decimal], Decimal]:
    """For the ladder: {(book side, YES price): contracts ahead of this trader's first order at that level}."""
    orders = list(Order.objects.for_user(user).filter(ticker=ticker, status=Order.Status.RESTING))
    known = positions_for(orders)
    out: dict[tuple[str, Decimal], Decimal] = {}
    for order in orders:
        if order.pk in known:
            level = (order.book_side, order.yes_price)
            out[level] = min(out.get(level, known[order.pk]), known[order.pk])
    return out


def fetch(account_id: int, client: Any) -> dict[str, Decimal]:
    """One batched call for every resting order of the account; stores and returns the answer."""
    rows = client.get_queue_positions()
    positions = {row.order_id: row.queue_position for row in rows}
    store(account_id, positions)
    return positions


def cells(orders: Iterable[Order]) -> dict[int, list[str]]:
    """{user id: out-of-band queue cells} for these orders' traders (each sees only their own)."""
    rows = [o for o in orders if o.user_id is not None and _shown(o)]
    known = positions_for(rows)
    out: dict[int, list[str]] = {}
    for order in rows:
        html = render_to_string(
            "trading/_queue_position.html", {"order": order, "ahead": known.get(order.pk), "queue_oob": True}
        )
        out.setdefault(order.user_id, []).append(html)
    return out
