"""Fills and order updates from the exchange's private channels (and from REST reconciliation).

Each fill is written once (unique per account and fill id) however many times and in whatever order it
arrives; order fill counts are recomputed from the stored fills, never incremented blindly.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi import models as k
from kalshiweb.kalshi.errors import NotFound
from trading import alerts, lifecycle, signals
from trading.models import Fill, KalshiAccount, Order

log = logging.getLogger(__name__)


def _order_for(account: KalshiAccount, exchange_order_id: str, client_order_id: str | None) -> Order | None:
    order = Order.objects.filter(account=account, exchange_order_id=exchange_order_id).first()
    if order is None and client_order_id:
        order = Order.objects.filter(account=account, client_order_id=client_order_id).first()
        if order is not None and order.exchange_order_id is None:
            Order.objects.filter(pk=order.pk, exchange_order_id__isnull=True).update(
                exchange_order_id=exchange_order_id
            )
            order.exchange_order_id = exchange_order_id
    return order


def record_fill(account: KalshiAccount, fill: m.Fill | k.PortfolioFill, *, source: str) -> Fill | None:
    """Store one fill (idempotent) and move its order forward. Returns the new row, or None if known."""
    if isinstance(fill, m.Fill):
        fill_id, ticker, created = fill.trade_id, fill.market_ticker, fill.ts
        fee, client_order_id, post_position = fill.fee_cost, fill.client_order_id, fill.post_position
    else:
        fill_id, ticker = fill.fill_id, fill.ticker
        created = fill.created_time or timezone.now()
        fee, client_order_id, post_position = fill.fee_cost, None, None
    if Fill.objects.filter(account=account, fill_id=fill_id).exists():
        return None
    order = _order_for(account, fill.order_id, client_order_id)
    try:
        with transaction.atomic():
            row = Fill.objects.create(
                fill_id=fill_id,
                account=account,
                order=order,
                user_id=order.user_id if order else None,
                exchange_order_id=fill.order_id,
                ticker=ticker,
                outcome_side=fill.outcome_side,
                book_side=fill.book_side,
                yes_price=fill.yes_price,
                count=fill.count,
                fee=fee,
                is_taker=fill.is_taker,
                post_position=post_position,
                created_time=created,
            )
            if order is not None:
                lifecycle.order_filled(order, row, source)
    except IntegrityError:
        return None  # the same fill arrived concurrently from another path
    signals.fill_recorded.send(sender=KalshiAccount, account_id=account.pk)
    try:
        alerts.on_fill(row)
    except Exception:  # an alert is a notification: the fill is stored whatever happens to it
        log.exception("fill %s: order-fill alerts failed", row.pk)
    return row


def apply_user_order(account: KalshiAccount, msg: m.UserOrder) -> bool:
    order = _order_for(account, msg.order_id, msg.client_order_id)
    if order is None:
        return False  # an order placed outside kalshiweb
    if msg.status == "unknown":
        return False
    return lifecycle.apply_exchange_order(
        order,
        {
            "status": msg.status,
            "order_id": msg.order_id,
            "fill_count": msg.fill_count,
            "remaining_count": msg.remaining_count,
        },
        "user_orders",
    )


def handle_private(account_id: int, item: Any) -> None:
    """Entry point for the feed's private streams (runs in a worker thread of the feed)."""
    account = KalshiAccount.objects.get(pk=account_id)
    if isinstance(item, m.Fill):
        record_fill(account, item, source="fill stream")
    elif isinstance(item, m.UserOrder):
        apply_user_order(account, item)


SYNC_OVERLAP_SECONDS = 120  # re-read this much before the last sync (clock skew, late fills): idempotent
HISTORY_START = datetime(2020, 1, 1, tzinfo=UTC)  # before Kalshi's first trade


def sync_fills(account: KalshiAccount, client: Any, *, source: str) -> int:
    """Every fill since the last complete sync, from both sides of Kalshi's historical cutoff; returns how many
    were new. Idempotent (`record_fill`).

    `KalshiAccount.fills_synced_through` says how far back REST reads are complete; fills that arrive from
    the stream in between do not move it (so one new fill never hides older ones). The live list
    (`/portfolio/fills`) holds only fills after the cutoff; when the last complete sync is older than the
    cutoff (a new account, or none for longer than Kalshi's live window) the rest comes from
    `/historical/fills`, newest first, down to that point. Live is read before historical (the cutoff only
    moves forward, so a fill leaving the live list between the two reads is in the historical one), and
    nothing is stored or marked complete until both reads succeeded; then fills are stored oldest first."""
    started = timezone.now()
    through = account.fills_synced_through or HISTORY_START
    since = int(through.timestamp()) - SYNC_OVERLAP_SECONDS
    fills = list(client.iter_fills(min_ts=since))
    try:
        cutoff: datetime | None = client.get_historical_cutoff().trades_created
    except NotFound:
        cutoff = None  # an exchange without historical data
    if cutoff is not None and since < cutoff.timestamp():
        for fill in client.iter_historical_fills(min_ts=since):  # min_ts: SDK 3.34; the break holds without
            if fill.created_time is not None and fill.created_time.timestamp() < since:
                break  # newest first: the rest was read before
            fills.append(fill)
    fills.sort(key=lambda f: (f.created_time or started, f.fill_id))
    new = 0
    for fill in fills:
        if record_fill(account, fill, source=source) is not None:
            new += 1
    KalshiAccount.objects.filter(pk=account.pk).update(fills_synced_through=started)
    account.fills_synced_through = started
    return new


def _exchange_order(client: Any, order: Order) -> Any:
    """The exchange's view of one of our orders; one that finished before Kalshi's historical cutoff is only in
    `/historical/orders` (e.g. after the app was down for longer than Kalshi's live window)."""
    try:
        return client.get_order(order.exchange_order_id)
    except NotFound:
        for remote in client.iter_historical_orders(ticker=order.ticker):
            if remote.order_id == order.exchange_order_id:
                return remote
        raise


def reconcile_account(account_id: int, client: Any) -> tuple[int, int]:
    """After a reconnect or gap: fills since the last stored one, then every order we think is open.

    The exchange's resting orders are listed once (`GET /portfolio/orders?status=resting`, paginated): an order
    still resting there with no new fills is left alone, one with more fills is brought level from the list,
    and only an order no longer in it (executed, canceled or expired meanwhile) is read on its own. One GET
    per resting order made each reconnect cost as many requests as the desk has orders resting.

    Returns (new fills, orders changed)."""
    account = KalshiAccount.objects.get(pk=account_id)
    new = sync_fills(account, client, source="fills reconcile")
    ours = list(
        Order.objects.filter(account=account, status=Order.Status.RESTING).exclude(exchange_order_id=None)
    )
    if not ours:
        return new, 0
    resting = {o.order_id: o for o in client.iter_orders(status="resting")}
    changed = 0
    for order in ours:
        remote = resting.get(order.exchange_order_id)
        if remote is not None and remote.fill_count <= order.fill_count:
            continue  # still resting, nothing new
        try:
            if remote is None:
                remote = _exchange_order(client, order)
            if lifecycle.apply_exchange_order(order, remote, "orders reconcile"):
                changed += 1
        except Exception as exc:
            log.warning("could not reconcile order %s: %s", order.pk, exc)
    return new, changed
