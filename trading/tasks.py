"""Celery tasks that sign and submit orders — thin: they take ids, claim the row, call the exchange.

Exactly once, under any fault:
- `submit_order` claims the order with a conditional update (NEW → SUBMITTING), so a redelivered or
  concurrent task does nothing; the request carries the order's `client_order_id`.
- A lost answer (timeout, reset, 5xx) makes the order UNKNOWN and schedules `reconcile_order`, which
  looks the order up by `client_order_id` before anything else; only when the exchange has no such
  order (after a grace period for read-after-write lag) is it submitted again — with the same
  `client_order_id`, so the exchange itself refuses a duplicate (409), which is reconciled the same way.
- 429 proves the order was not taken: back to NEW and retried after the shared token bucket allows.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kalshiweb import metrics
from kalshiweb.kalshi.errors import (
    Conflict,
    ExchangeUnavailable,
    KalshiError,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
)
from trading import lifecycle, order_groups, queue_positions
from trading.clients import client_for
from trading.models import KalshiAccount, Order

log = logging.getLogger(__name__)

WORKER = "worker"
NOT_FOUND_GRACE_SECONDS = 3.0


def _load(order_id: int) -> Order | None:
    """The order with its account, or None. Unordered: the model's default ordering only costs compile time."""
    return Order.objects.select_related("account").filter(pk=order_id).order_by().first()


def _backoff(retries: int) -> float:
    return random.uniform(0, min(30.0, 0.5 * 2**retries))


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def submit_order(self: Any, order_id: int) -> str:
    """Claim the order, sign and send it, apply the answer. Each step is one call in `trading.lifecycle`."""
    order = _load(order_id)
    if order is None:
        return "missing"
    if order.cancel_requested and lifecycle.cancel_unsent(order, WORKER):
        return "canceled before sending"
    if order.status == Order.Status.NEW and order.too_old_to_send:
        return _expire_or_find(self, order)
    if order.status == Order.Status.NEW and not order.order_group_id:
        _join_order_group(self, order)
    request = lifecycle.order_request(order)
    if not lifecycle.claim(order, request, WORKER):
        if order.status in (Order.Status.SUBMITTING, Order.Status.UNKNOWN):
            # A redelivery after a worker died mid-submission: find out what the exchange has.
            reconcile_order.apply_async((order_id,), countdown=NOT_FOUND_GRACE_SECONDS)
        return f"already {order.status}"
    metrics.order_sending(order)
    try:
        result = client_for(order.account).submit_order(request)
    except RateLimited:
        lifecycle.not_sent(order, WORKER, "rate_limited", "429: not accepted; retrying")
        raise self.retry(countdown=_backoff(self.request.retries)) from None
    except ExchangeUnavailable as exc:  # could not reach the exchange at all: nothing was sent
        lifecycle.not_sent(order, WORKER, "not_sent", str(exc))
        raise self.retry(countdown=_backoff(self.request.retries)) from None
    except (OutcomeUnknown, Conflict, ProtocolError) as exc:
        # ProtocolError: an answer we could not read is no proof the exchange refused the order.
        lifecycle.outcome_unknown(order, WORKER, str(exc))
        reconcile_order.apply_async((order_id,), countdown=0.5)
        return "unknown"
    except KalshiError as exc:
        lifecycle.reject(order, WORKER, exc)
        order_groups.refused_order(order, str(exc.code or ""))
        return "rejected"
    lifecycle.acknowledge(order, result, WORKER)
    if order.cancel_requested and order.status == Order.Status.RESTING:
        cancel_order.delay(order.pk)
    return order.status


def _join_order_group(task: Any, order: Order) -> None:
    """Put the order in its trader's order group (created on the exchange the first time), before it is claimed:
    the group id is stored on the row, so a retry or a reconcile resends the same request. An order is never sent
    outside the group its trader must trade in: while the group cannot be had, the task retries (and an order
    too old to send expires)."""
    try:
        group_id = order_groups.group_for_order(order)
    except order_groups.GroupBusy:
        raise task.retry(countdown=0.5 + _backoff(task.request.retries)) from None
    except KalshiError as exc:
        log.warning("order %s: its order group could not be had (%s); retrying", order.pk, exc)
        raise task.retry(countdown=_backoff(task.request.retries)) from None
    if group_id:
        Order.objects.filter(pk=order.pk, status=Order.Status.NEW).update(order_group_id=group_id)
        order.order_group_id = group_id


def _expire_or_find(task: Any, order: Order) -> str:
    """An order older than the submission age is never sent. It is looked up by client_order_id first (one read,
    for a rare event), in case an earlier attempt did reach the exchange (a 429 or timeout retried, or a claim
    whose commit was lost after the order was sent): then the row takes the exchange's state instead."""
    try:
        remote = client_for(order.account).find_order(
            client_order_id=str(order.client_order_id), ticker=order.ticker, include_historical=True
        )
    except KalshiError as exc:
        log.warning("order %s is too old to send but could not be looked up (%s)", order.pk, exc)
        raise task.retry(countdown=_backoff(task.request.retries)) from None
    if remote is not None:
        lifecycle.found_on_exchange(order, remote, "reconcile")
        return "found"
    if lifecycle.expire_unsent(order, WORKER):
        return "expired"
    order.refresh_from_db()
    return f"already {order.status}"


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def reconcile_order(self: Any, order_id: int) -> str:
    order = _load(order_id)
    if order is None or order.status not in (Order.Status.SUBMITTING, Order.Status.UNKNOWN):
        return "nothing to do"
    try:
        remote = client_for(order.account).find_order(
            client_order_id=str(order.client_order_id), ticker=order.ticker, include_historical=True
        )
    except KalshiError as exc:
        log.warning("reconcile of order %s failed (%s); retrying", order_id, exc)
        raise self.retry(countdown=_backoff(self.request.retries)) from None
    if remote is not None:
        lifecycle.found_on_exchange(order, remote, "reconcile", record=True)
        return "found"
    submitted = order.submitted_at or order.created_at
    if timezone.now() - submitted < timedelta(seconds=NOT_FOUND_GRACE_SECONDS):
        raise self.retry(countdown=NOT_FOUND_GRACE_SECONDS)
    # The exchange has no order with this client_order_id: it never took it. Submitting again is safe —
    # the same client_order_id makes the exchange refuse a duplicate.
    if lifecycle.not_on_exchange(order, "reconcile"):
        submit_order.delay(order.pk)
    return "resubmitted"


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def cancel_order(self: Any, order_id: int) -> str:
    order = _load(order_id)
    if order is None or order.status in Order.FINAL_STATUSES:
        return "nothing to do"
    if order.status == Order.Status.NEW and lifecycle.cancel_unsent(order, WORKER):
        return "canceled locally"
    if order.status != Order.Status.RESTING or not order.exchange_order_id:
        # Still being submitted or reconciled: submit_order/reconcile cancel it once it rests.
        raise self.retry(countdown=1.0 + _backoff(self.request.retries))
    client = client_for(order.account)
    try:
        client.cancel_order(order.exchange_order_id, market_ticker=order.ticker)
    except RateLimited:
        raise self.retry(countdown=_backoff(self.request.retries)) from None
    except (NotFound, OutcomeUnknown, ExchangeUnavailable) as exc:
        lifecycle.audit(order, "cancel_uncertain", WORKER, note=str(exc))
    except KalshiError as exc:
        lifecycle.cancel_refused(order, WORKER, exc.code, exc.message)
        return "refused"
    try:
        remote = client.get_order(order.exchange_order_id)
    except KalshiError as exc:
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from None
    lifecycle.apply_exchange_order(order, remote, "cancel")
    return "canceled"


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def amend_order(self: Any, order_id: int) -> str:
    """Send the amend in flight. Its target (limit and total count) is absolute, so a redelivery or a retry after
    a lost answer cannot amend twice: the exchange's order is read first, and the amend is sent again only when
    the order does not already have it."""
    order = _load(order_id)
    if order is None or not order.amending:
        return "nothing to do"

    def drop(note: str, toast: str = "") -> str:
        lifecycle.drop_amend(order, WORKER, note, toast)
        return "dropped"

    if order.status != Order.Status.RESTING or not order.exchange_order_id:
        return drop(
            f"order is {order.status}: not amended", toast="Amend not sent: the order is no longer resting."
        )
    side, yes_price, count = lifecycle.amend_target(order)
    client = client_for(order.account)
    # Read the exchange's order first (one GET from the read budget): a retry after a lost answer, a redelivery
    # after a killed worker or the sweep may find the amend already done. Two deliveries racing past this both
    # send the same absolute target, which leaves the same order.
    try:
        remote = client.get_order(order.exchange_order_id)
    except RateLimited:
        raise self.retry(countdown=_backoff(self.request.retries)) from None
    except NotFound:
        return drop("the exchange has no such order: not amended", toast="Amend not sent: order not found.")
    except KalshiError as exc:
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from None
    if remote.status != "resting":
        with transaction.atomic():
            lifecycle.apply_exchange_order(order, remote, "amend")
            return drop(f"order is {remote.status} on the exchange: not amended")
    if remote.yes_price == yes_price and remote.fill_count + remote.remaining_count == count:
        lifecycle.amended(
            order,
            fill_count=remote.fill_count,
            remaining=remote.remaining_count,
            exchange_id=remote.order_id,
            actor="reconcile",
        )
        return "found amended"
    try:
        result = client.amend_order(
            order.exchange_order_id,
            ticker=order.ticker,
            side=side,
            price=yes_price,
            count=count,
            client_order_id=str(order.client_order_id),
        )
    except RateLimited:
        raise self.retry(countdown=_backoff(self.request.retries)) from None
    except (OutcomeUnknown, ExchangeUnavailable, ProtocolError) as exc:
        lifecycle.audit(order, "amend_unknown", WORKER, note=str(exc))
        raise self.retry(countdown=0.5 + _backoff(self.request.retries)) from None
    except KalshiError as exc:
        lifecycle.amend_refused(order, WORKER, exc)
        # The refusal may be because the order changed meanwhile (filled, canceled): take the exchange's view.
        try:
            lifecycle.apply_exchange_order(order, client.get_order(order.exchange_order_id), "amend")
        except KalshiError as error:
            log.info("after a refused amend, order %s could not be refreshed: %s", order.pk, error)
        return "dropped"
    lifecycle.amended(
        order,
        fill_count=result.fill_count,
        remaining=result.remaining_count,
        exchange_id=result.order_id,
        actor=WORKER,
    )
    return "amended"


BATCH_CANCEL_SIZE = 20


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def cancel_trader_orders(self: Any, order_ids: list[int], actor: str) -> str:
    """A trader's kill switch or "cancel all in market": cancel exactly these orders, the trader's own, never the
    account's other traders'. Those resting on the exchange go in batch cancels by exchange order id; those still
    being sent or reconciled go through `cancel_order`, which cancels them once they rest."""
    resting: dict[int, list[Order]] = {}
    accounts: dict[int, KalshiAccount] = {}
    for order in Order.objects.select_related("account").filter(pk__in=order_ids).order_by("pk"):
        if order.status in Order.FINAL_STATUSES:
            continue
        if order.status == Order.Status.RESTING and order.exchange_order_id:
            resting.setdefault(order.account_id, []).append(order)
            accounts[order.account_id] = order.account
        else:
            cancel_order.delay(order.pk)
    for account_id, batch in resting.items():
        client = client_for(accounts[account_id])
        for start in range(0, len(batch), BATCH_CANCEL_SIZE):
            chunk = batch[start : start + BATCH_CANCEL_SIZE]
            try:
                items = client.batch_cancel_orders([o.exchange_order_id or "" for o in chunk])
            except RateLimited:
                raise self.retry(countdown=_backoff(self.request.retries)) from None
            except KalshiError as exc:
                # No answer we can use (lost, unreachable, unreadable, refused as a whole): each order is
                # canceled on its own, with cancel_order's handling of every outcome.
                log.warning("batch cancel of %d orders failed (%s); canceling one by one", len(chunk), exc)
                for order in chunk:
                    cancel_order.delay(order.pk)
                continue
            errors = {item.order_id: item.error for item in items if item.error is not None}
            for order in chunk:
                error = errors.get(order.exchange_order_id or "")
                if error is not None:
                    lifecycle.audit(
                        order,
                        "cancel_refused",
                        actor,
                        received={"code": error.code, "message": error.message},
                    )
                try:
                    remote = client.get_order(order.exchange_order_id or "")
                except KalshiError as exc:
                    log.warning("after a batch cancel, order %s could not be read (%s)", order.pk, exc)
                    cancel_order.delay(order.pk)  # it reads the order again and settles the row
                    continue
                lifecycle.apply_exchange_order(order, remote, actor)
                if error is not None and remote.status == "resting":
                    lifecycle.cancel_refused(order, actor, error.code, error.message, record=False)
    return "done"


@shared_task(bind=True, acks_late=True, max_retries=5, ignore_result=True)
def cancel_all_for_account(self: Any, account_id: int, actor: str) -> str:
    """Staff only (the global halt): Kalshi's cancel-all, which cancels every order of the account, whoever of its
    traders placed it; then bring every open order of the account up to date. A trader's own kill switch is
    `cancel_trader_orders`."""
    account = KalshiAccount.objects.get(pk=account_id)
    client = client_for(account)
    try:
        client.cancel_all_orders()
    except RateLimited:
        raise self.retry(countdown=_backoff(self.request.retries)) from None
    for order in Order.objects.filter(account=account, status=Order.Status.RESTING).exclude(
        exchange_order_id=None
    ):
        try:
            lifecycle.apply_exchange_order(order, client.get_order(order.exchange_order_id), actor)
        except KalshiError as exc:
            log.warning("after cancel-all, order %s could not be refreshed: %s", order.pk, exc)
    Order.objects.filter(account=account, status=Order.Status.NEW).update(cancel_requested=True)
    return "done"


@shared_task(ignore_result=True)
def reconcile_stuck_orders() -> int:
    """Periodic: orders left submitting/unknown (a killed worker, a lost task) are reconciled."""
    cutoff = timezone.now() - timedelta(seconds=settings.KALSHIWEB_RECONCILE_AFTER_SECONDS)
    stuck = list(
        Order.objects.filter(
            status__in=(Order.Status.SUBMITTING, Order.Status.UNKNOWN), updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for pk in stuck:
        reconcile_order.delay(pk)
    lost_new = list(
        Order.objects.filter(status=Order.Status.NEW, created_at__lt=cutoff).values_list("pk", flat=True)
    )
    for pk in lost_new:
        # The task message was lost; the claim makes a second one harmless. The task never sends an order older
        # than KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS: it expires it (after looking it up on the exchange).
        submit_order.delay(pk)
    lost_amends = list(
        Order.objects.filter(amend_price__isnull=False, updated_at__lt=cutoff).values_list("pk", flat=True)
    )
    for pk in lost_amends:
        amend_order.delay(pk)  # it reads the exchange's order before sending anything
    return len(stuck) + len(lost_new) + len(lost_amends)


@shared_task(ignore_result=True)
def refresh_queue_positions(account_id: int) -> int:
    """Issue #15: one batched queue-position read for the account, stored and pushed to each trader's pages
    (their own resting orders only). Best effort: a failure leaves the last answer, which ages out."""
    account = KalshiAccount.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    try:
        queue_positions.fetch(account_id, client_for(account))
    except KalshiError as exc:
        log.warning("queue positions of account %s: %s", account_id, exc)
        return 0
    resting = Order.objects.filter(account_id=account_id, status=Order.Status.RESTING).exclude(
        exchange_order_id=None
    )
    pushed = 0
    for user_id, html in queue_positions.cells(resting).items():
        lifecycle.notify_user(user_id, html)
        pushed += len(html)
    return pushed
