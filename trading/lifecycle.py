"""An order's and a fill's changes of state, each in one place: the conditional update, its audit row and the
trader's notification (sent after commit).

Every exchange answer is applied through `apply_exchange_order`, which only moves an order forward
(never from a final state back to an open one), so the create response, the `user_orders` stream,
fills and reconciliation can arrive in any order and twice without harm.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from kalshiweb import logs
from kalshiweb.kalshi import models as k
from kalshiweb.kalshi.errors import KalshiError
from kalshiweb.kalshi.rest import book_order
from trading import signals
from trading.models import Fill, KalshiAccount, Order, OrderEvent

log = logging.getLogger(__name__)


TIF_TO_V2 = {
    "gtc": "good_till_canceled",
    "gtt": "good_till_canceled",
    "ioc": "immediate_or_cancel",
    "fok": "fill_or_kill",
}
EXCHANGE_STATUS = {
    "resting": Order.Status.RESTING,
    "executed": Order.Status.EXECUTED,
    "canceled": Order.Status.CANCELED,
}


def audit(
    order: Order, kind: str, actor: str, *, sent: Any = None, received: Any = None, note: str = ""
) -> None:
    OrderEvent.objects.create(
        order=order,
        kind=kind,
        actor=actor,
        status=order.status,
        sent=sent,
        received=received,
        note=note[:500],
    )
    # The same step in the log, under the request id of the click that placed the order (the POST's own id in
    # the web process; in a worker or the feed, the one stored on the order), so one id finds its whole path.
    with logs.order_context(order):
        log.info(
            "order %s %s by %s (status %s)",
            order.pk,
            kind,
            actor,
            order.status,
            extra={"order_id": order.pk, "event": kind, "client_order_id": str(order.client_order_id)},
        )


_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0


def _channel_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process for channel-layer sends from sync code. `async_to_sync` would start a
    thread, an event loop and a new Redis connection for every message (≈3 ms each on our 2-core machine,
    against ≈0.4 ms here, where the layer's connection pool lives as long as the loop)."""
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():  # a forked worker starts its own
            _loop, _loop_pid = asyncio.new_event_loop(), os.getpid()
            threading.Thread(target=_loop.run_forever, name="channel-layer-sends", daemon=True).start()
        return _loop


@dataclass(frozen=True, slots=True)
class Scoped:
    """A pushed fragment that only some pages have a target for: pages of these `views` (the socket's `view`)
    watching `ticker` (e.g. an order's row: only that market's page shows it)."""

    html: str
    views: tuple[str, ...] = ()
    ticker: str = ""


def notify_user(
    user_id: int,
    html: str | Scoped | Sequence[str | Scoped],
    *,
    views: tuple[str, ...] = (),
    ticker: str = "",
) -> None:
    """Push HTML fragments to a trader's open pages after the transaction commits (never rolled-back data).

    Each fragment goes as its own frame: htmx parses a frame in the context of its first element, so a
    table row and a toast cannot share one. `views`/`ticker`: only pages of these kinds (the socket's
    `view`) / watching this market have a target for the fragments (markets.consumers)."""
    items = [html] if isinstance(html, str | Scoped) else [h for h in html if h]
    frames = [
        item if isinstance(item, Scoped) else Scoped(item, tuple(views), ticker) for item in items if item
    ]

    async def push() -> None:
        layer = get_channel_layer()
        for f in frames:
            event = {"type": "user.update", "html": f.html, "views": list(f.views), "ticker": f.ticker}
            await layer.group_send(f"user.{user_id}", event)

    def send() -> None:
        try:
            asyncio.run_coroutine_threadsafe(push(), _channel_loop()).result(timeout=5)
        except Exception as exc:  # a push is a notification; the database stays the truth
            log.warning("could not notify user %s: %s", user_id, exc)

    transaction.on_commit(send)


# A frame that makes every open orders panel of the trader re-render itself (live.js turns it into the body
# event kw:orders-changed): how an order placed in one tab or on another web process appears in the others.
ORDERS_CHANGED = '<div id="kw-signal" hx-swap-oob="true" data-event="kw:orders-changed" hidden></div>'


def render_order_update(order: Order, *, toast: str = "", announce: bool = False) -> list[str | Scoped]:
    """The order's row (sent only to that market's pages, the only ones that show it); with ``announce``, also
    the orders-changed signal, for pages that do not have the row yet (the first answer to a new order); the
    toast goes to every page."""
    row = render_to_string("trading/_order_row.html", {"order": order, "oob": True})
    frames: list[str | Scoped] = [Scoped(row, ("detail",), order.ticker)]
    if announce:
        frames.append(ORDERS_CHANGED)
    if toast:
        frames.append(render_to_string("trading/_toast.html", {"message": toast}))
    return frames


def expiry_reason(order: Order) -> str:
    return (
        f"Not sent within {order.submit_max_age} s of being placed (the order worker was slow or down), "
        "so it was never sent."
    )


def expire_unsent(order: Order, actor: str) -> bool:
    """Expire an order too old to send (status NEW), telling the trader why. False when it is not NEW any more
    (the worker claimed it first, or it was canceled): the conditional update lets exactly one of them win."""
    if not order.expire_unsent(expiry_reason(order)):
        return False
    audit(order, "expired", actor, note=order.error_message)
    notify_user(
        order.user_id,
        render_order_update(order, toast=f"Order expired unsent: {order.action} {order.ticker}"),
    )
    return True


def amend_target(order: Order) -> tuple[str, Decimal, Decimal]:
    """The amend in flight as Kalshi takes it: (book side, YES price, new total count)."""
    if order.amend_price is None or order.amend_count is None:
        raise ValueError(f"order {order.pk} has no amend in flight")
    side, yes_price = book_order(order.outcome, order.action, order.amend_price)
    return side, yes_price, order.amend_count


def apply_amend(
    order: Order, *, fill_count: Decimal | None, remaining: Decimal | None, exchange_id: str
) -> bool:
    """The exchange has the amend: the row takes its new limit and size (and the fills the exchange reports)."""
    _side, yes_price, count = amend_target(order)
    fills = max(order.fill_count, fill_count or Decimal(0))
    left = remaining if remaining is not None else max(count - fills, Decimal(0))
    changes: dict[str, Any] = {
        "price": order.amend_price,
        "yes_price": yes_price,
        "count": count,
        "fill_count": fills,
        "remaining_count": left,
        "exchange_order_id": exchange_id or order.exchange_order_id,
    }
    if left == 0:
        changes["status"] = Order.Status.EXECUTED
    return order.finish_amend(**changes)


def order_request(order: Order) -> k.OrderRequest:
    return k.OrderRequest(
        ticker=order.ticker,
        side=order.book_side,
        count=order.count,
        price=order.yes_price,
        client_order_id=str(order.client_order_id),
        time_in_force=TIF_TO_V2[order.time_in_force],
        expiration_time=int(order.expiration_time.timestamp()) if order.expiration_time else None,
        post_only=order.post_only or None,
        reduce_only=order.reduce_only or None,
        order_group_id=order.order_group_id or None,
    )


def apply_ack(order: Order, result: k.CreateOrderResult) -> bool:
    """The exchange accepted the order: record its id and what filled immediately."""
    if result.remaining_count > 0:
        status = Order.Status.RESTING
    elif result.fill_count >= order.count:
        status = Order.Status.EXECUTED
    else:
        status = Order.Status.CANCELED  # IOC/FOK remainder, or post-only that would have crossed
    changed = order._transition(
        (Order.Status.SUBMITTING, Order.Status.UNKNOWN, Order.Status.NEW),
        status=status,
        exchange_order_id=result.order_id,
        fill_count=max(order.fill_count, result.fill_count),
        remaining_count=result.remaining_count,
        average_fill_price=result.average_fill_price,
        acknowledged_at=timezone.now(),
        error_code="",
        error_message="",
    )
    if not changed:
        # The stream got there first: keep its state, but make sure we know the exchange id.
        Order.objects.filter(pk=order.pk, exchange_order_id__isnull=True).update(
            exchange_order_id=result.order_id
        )
    return changed


def apply_exchange_order(order: Order, remote: k.Order | dict[str, Any], actor: str) -> bool:
    """Bring our row to the exchange's view of the order (from GET /portfolio/orders or user_orders)."""
    if isinstance(remote, k.Order):
        status, order_id = remote.status, remote.order_id
        fill_count, remaining = remote.fill_count, remote.remaining_count
    else:
        status, order_id = remote["status"], remote["order_id"]
        fill_count, remaining = remote["fill_count"], remote["remaining_count"]
    target = EXCHANGE_STATUS.get(status)
    if target is None:
        return False
    allowed = list(Order.OPEN_STATUSES)  # final states are final
    order.refresh_from_db()
    if order.exchange_order_id is None:
        # Before anything that may end the order (linking its fills can make it EXECUTED): a final order must
        # still learn its exchange id, or it can never be looked up, amended or matched with its fills again.
        Order.objects.filter(pk=order.pk, exchange_order_id__isnull=True).update(exchange_order_id=order_id)
        order.exchange_order_id = order_id
    if Fill.objects.filter(exchange_order_id=order_id, order__isnull=True).exists():
        # Fills stored before we knew this order's exchange id (e.g. from REST, which has no client_order_id).
        link_orphan_fills(order, order_id)
    if order.status in Order.FINAL_STATUSES:
        return False
    if (
        order.status == Order.Status.RESTING
        and target == Order.Status.RESTING
        and fill_count <= order.fill_count
    ):
        return False
    first_answer = order.acknowledged_at is None  # other tabs may not show this order yet
    changed = order._transition(
        tuple(allowed),
        status=target,
        exchange_order_id=order_id,
        fill_count=max(order.fill_count, fill_count),
        remaining_count=remaining,
        acknowledged_at=order.acknowledged_at or timezone.now(),
    )
    if changed:
        audit(
            order,
            "exchange_state",
            actor,
            received={"status": status, "fill_count": str(fill_count), "remaining_count": str(remaining)},
        )
        notify_user(order.user_id, render_order_update(order, announce=first_answer))
        cash_moved(order.account_id)
    return changed


def cash_moved(account_id: int) -> None:
    """An order rested, filled, was canceled or expired on the exchange: the account's available cash changed
    there. Announced after the commit (the portfolio app refreshes the account's cash and pushes it to the pages)."""
    transaction.on_commit(lambda: signals.cash_moved.send(sender=KalshiAccount, account_id=account_id))


def link_orphan_fills(order: Order, exchange_order_id: str) -> None:
    """Fills that arrived before we knew the order's exchange id are attached to it now."""
    fills = Fill.objects.filter(Q(order=order) | Q(exchange_order_id=exchange_order_id, order__isnull=True))
    if not fills.exists():
        return  # the usual acknowledgement of an order that has not traded: one query, not two
    Fill.objects.filter(exchange_order_id=exchange_order_id, order__isnull=True).update(
        order=order,
        user_id=order.user_id,  # the id: `order.user` would load the user row for nothing
    )
    refresh_fill_count(order)


def refresh_fill_count(order: Order) -> None:
    """Fill count from the stored fills (each counted once, whatever order they arrived in)."""
    rows = list(Fill.objects.filter(order=order).values_list("count", "yes_price"))
    filled = sum((count for count, _ in rows), Decimal("0"))
    if filled <= order.fill_count:
        return
    yes_cost = sum((count * yes_price for count, yes_price in rows), Decimal("0"))
    yes_average = yes_cost / filled
    average = yes_average if order.outcome == "yes" else 1 - yes_average  # in the order's own leg
    changes: dict[str, Any] = {
        "fill_count": filled,
        "average_fill_price": average.quantize(Decimal("0.0001")),
    }
    if order.status in Order.OPEN_STATUSES:
        # While an amend is in flight the exchange's size may already be the new one: never call the order
        # filled on the old size then (the amend's answer, or the exchange's order state, settles it).
        total = max(order.count, order.amend_count) if order.amend_count is not None else order.count
        changes["remaining_count"] = max(total - filled, Decimal("0"))
        if filled >= total:
            changes["status"] = Order.Status.EXECUTED
    Order.objects.filter(pk=order.pk, fill_count__lt=filled).update(**changes, updated_at=timezone.now())
    order.refresh_from_db()


# ------------------------------------------------------------------------------ the steps of the tasks
# Each is one call: the conditional update on the order's row (the model's method), its audit row and the
# trader's notification (sent after the commit). A False return means the row was not in the state the step
# starts from (another worker, the stream or a second delivery got there first): nothing else happened.


def cancel_unsent(order: Order, actor: str, note: str = "canceled before it was sent") -> bool:
    """NEW and never sent: canceled here and now (the conditional update races the worker's claim)."""
    if not order.cancel_unsent():
        return False
    audit(order, "canceled", actor, note=note)
    notify_user(order.user_id, render_order_update(order))
    return True


def request_cancel(order: Order, actor: str, note: str = "") -> bool:
    """Mark an open order "canceling…" for the exchange to cancel. False: it is already being canceled."""
    if order.cancel_requested or not order.mark_cancel_requested():
        return False
    audit(order, "cancel_requested", actor, note=note)
    return True


def cancel_refused(order: Order, actor: str, code: Any, message: Any, *, record: bool = True) -> None:
    """The exchange refused the cancel: the order rests on (no longer "canceling…") and the trader is told why.
    `record=False`: the refusal is in the audit already."""
    if record:
        audit(order, "cancel_refused", actor, received={"code": code, "message": message})
    order.clear_cancel_requested()
    notify_user(order.user_id, render_order_update(order, toast=f"Cancel refused: {message or code}"))


def claim(order: Order, request: k.OrderRequest, actor: str) -> bool:
    """NEW → SUBMITTING, before anything is sent. The claim and its audit row commit together: never a claimed
    order without its "submitting" row (nor the reverse), and one commit on the way to the exchange."""
    with transaction.atomic():
        claimed = order.mark_submitting()
        if claimed:
            audit(order, "submitting", actor, sent=request.to_json())
    return claimed


def not_sent(order: Order, actor: str, kind: str, note: str) -> bool:
    """The exchange did not take the order (429, or it could not be reached): back to NEW, to be sent again."""
    released = order.release_for_retry()
    audit(order, kind, actor, note=note)
    return released


def outcome_unknown(order: Order, actor: str, reason: str) -> None:
    """The answer was lost or unreadable: UNKNOWN until reconciliation finds the order (or not)."""
    order.mark_unknown(reason)
    audit(order, "outcome_unknown", actor, note=reason)
    notify_user(order.user_id, render_order_update(order, announce=True))


def reject(order: Order, actor: str, exc: KalshiError) -> None:
    """The exchange refused the order."""
    order.mark_rejected(str(exc.code or "rejected"), exc.message or str(exc))
    audit(
        order,
        "rejected",
        actor,
        received={"code": exc.code, "message": exc.message, "status": exc.http_status},
    )
    notify_user(
        order.user_id,
        render_order_update(order, toast=f"Order rejected: {exc.message or exc.code}", announce=True),
    )


def acknowledge(order: Order, result: k.CreateOrderResult, actor: str) -> None:
    """The exchange took the order: its id, what filled at once, fills that arrived first; then the trader sees
    it and the account's cash is refreshed."""
    with transaction.atomic():
        apply_ack(order, result)
        link_orphan_fills(order, result.order_id)
        order.refresh_from_db()
        audit(
            order,
            "acknowledged",
            actor,
            received={
                "order_id": result.order_id,
                "fill_count": str(result.fill_count),
                "remaining_count": str(result.remaining_count),
            },
        )
    # Rendered after the commit, from the row as committed: the transaction (on SQLite the database's write
    # lock, which the next order's POST waits for) is not held open for a template render.
    notify_user(order.user_id, render_order_update(order, announce=True))
    cash_moved(order.account_id)  # after the push: the trader sees the order first


def found_on_exchange(order: Order, remote: k.Order, actor: str, *, record: bool = False) -> None:
    """Looked up by client_order_id, the exchange has the order: the row takes its state (and fills that
    arrived first). `record`: also an audit row saying the order was found."""
    with transaction.atomic():
        apply_exchange_order(order, remote, actor)
        link_orphan_fills(order, remote.order_id)
        if record:
            audit(order, "reconciled", actor, received={"order_id": remote.order_id, "status": remote.status})


def not_on_exchange(order: Order, actor: str) -> bool:
    """The exchange has no order with this client_order_id (after the grace period): it never took it, so it
    is NEW again, to be submitted again with the same client_order_id (a duplicate is refused by the exchange)."""
    if not order.release_for_retry():
        return False
    audit(order, "not_on_exchange", actor, note="not found by client_order_id; resubmitting")
    return True


def request_amend(order: Order, price: Decimal, count: Decimal, actor: str) -> bool:
    """Record an amend to send (the row shows "amending…"). False: no longer amendable."""
    if not order.request_amend(price, count):
        return False
    side, yes_price = book_order(order.outcome, order.action, price)
    audit(order, "amend_requested", actor, sent={"side": side, "price": str(yes_price), "count": str(count)})
    return True


def amended(order: Order, *, fill_count: Any, remaining: Any, exchange_id: str, actor: str) -> None:
    """The exchange has the amend: the row takes it, the audit says who saw it, the trader is told."""
    with transaction.atomic():
        apply_amend(order, fill_count=fill_count, remaining=remaining, exchange_id=exchange_id)
        audit(order, "amended", actor, received={"order_id": exchange_id, "remaining_count": str(remaining)})
        notify_user(order.user_id, render_order_update(order))


def drop_amend(order: Order, actor: str, note: str, toast: str = "") -> bool:
    """The amend will not be made (the order changed, or the exchange refused it): cleared, the trader told."""
    if not order.finish_amend():
        return False
    audit(order, "amend_dropped", actor, note=note)
    order.refresh_from_db()
    notify_user(order.user_id, render_order_update(order, toast=toast))
    return True


def amend_refused(order: Order, actor: str, exc: KalshiError) -> None:
    """The exchange refused the amend: recorded, and the amend dropped with the exchange's reason."""
    audit(
        order,
        "amend_refused",
        actor,
        received={"code": exc.code, "message": exc.message, "status": exc.http_status},
    )
    drop_amend(order, actor, exc.message or str(exc.code), toast=f"Amend refused: {exc.message or exc.code}")


def order_filled(order: Order, fill: Fill, source: str) -> None:
    """A new fill of this order was stored (inside its transaction): the order's fill count from its stored
    fills, the audit row, and the trader's order row, fill row and toast after the commit."""
    refresh_fill_count(order)
    audit(
        order,
        "fill",
        source,
        received={"fill_id": fill.fill_id, "count": str(fill.count), "yes_price": str(fill.yes_price)},
    )
    price = (fill.price * 100).normalize()
    frames = render_order_update(
        order,
        toast=f"Filled {fill.count.normalize():f} {fill.outcome_side.upper()} {fill.ticker} @ {price:f}¢",
    )
    # The order's and the fill's rows are only on that market's page; the toast is on every page.
    fill_row = render_to_string("trading/_fill_row.html", {"fill": fill, "oob": True})
    notify_user(order.user_id, [frames[0], Scoped(fill_row, ("detail",), fill.ticker)])
    notify_user(order.user_id, frames[1:])
