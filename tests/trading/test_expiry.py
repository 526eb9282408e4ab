"""An order stuck in "sending…" while the order worker is down: the trader can cancel it at once, is warned that it
is slow, and it is never sent once older than KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS (it shows expired, with the
reason). Real Celery worker on the Redis broker, started only after the order was placed; real simulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from tests.trading.orderkit import exchange_orders, fresh_market, make_order
from tests.trading.test_submission import cleaned, wait_for
from trading.lifecycle import order_request
from trading.models import Order
from trading.services import place_order
from trading.tasks import reconcile_stuck_orders, submit_order

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


@contextmanager
def worker_started() -> Iterator[None]:
    """The order worker, started now (it was down while the test placed its orders)."""
    from celery.contrib.testing.worker import start_worker

    from kalshiweb.celery import app

    app.conf.broker_url = os.environ["REDIS_URL"]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        yield


def age(order: Order, seconds: float) -> None:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))


def on_exchange(sim, trader, order: Order) -> list:
    return exchange_orders(sim, trader.sim_user_id, client_order_id=str(order.client_order_id))


def test_an_order_placed_while_the_worker_is_down_can_be_canceled_and_is_never_sent(sim, trader, client):
    ticker = fresh_market(sim)
    order = place_order(trader, cleaned(), ticker)  # its submission is queued; no worker takes it
    client.force_login(trader)
    row = client.get(f"/orders/{order.pk}/row/", headers=HTMX).content.decode()
    assert "sending…" in row and f'action="/orders/{order.pk}/cancel/"' in row

    row = client.post(f"/orders/{order.pk}/cancel/", headers=HTMX).content.decode()
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELED  # at once, without the worker
    assert "canceled" in row and "Cancel</button>" not in row

    later = place_order(trader, cleaned(price=D("0.03")), ticker)
    with worker_started():
        # One worker, tasks in the order queued: once the later order rests, the first one's task has run.
        wait_for(lambda: Order.objects.filter(pk=later.pk, status=Order.Status.RESTING).exists(), timeout=30)
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELED
    assert on_exchange(sim, trader, order) == []


def test_an_order_older_than_the_submission_age_expires_when_the_worker_comes_back(
    sim, trader, client, settings
):
    settings.KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS = 20
    ticker = fresh_market(sim)
    stale = place_order(trader, cleaned(), ticker)  # queued while the worker is down…
    age(stale, 25)  # …and the worker comes back 25 s later
    young = place_order(trader, cleaned(price=D("0.03")), ticker)
    with worker_started():
        wait_for(lambda: Order.objects.filter(pk=young.pk, status=Order.Status.RESTING).exists(), timeout=30)
        wait_for(lambda: Order.objects.filter(pk=stale.pk).exclude(status=Order.Status.NEW).exists())
    assert on_exchange(sim, trader, stale) == []  # never sent 25 s late
    row = Order.objects.get(pk=stale.pk)
    assert row.status == Order.Status.EXPIRED and row.attempts == 0 and row.remaining_count == 0
    assert "Not sent within 20 s" in row.error_message
    assert len(on_exchange(sim, trader, young)) == 1
    client.force_login(trader)
    body = client.get(f"/orders/{stale.pk}/row/", headers=HTMX).content.decode()
    assert "expired" in body and "Not sent within 20 s" in body and "hx-trigger" not in body


def test_a_slow_order_says_so_and_expires_on_the_page_while_the_worker_is_down(sim, trader, client, settings):
    settings.KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS = 30
    order = place_order(trader, cleaned(), fresh_market(sim))
    client.force_login(trader)
    assert "worker may be down" not in client.get(f"/orders/{order.pk}/row/").content.decode()
    age(order, 8)
    body = client.get(f"/orders/{order.pk}/row/").content.decode()
    assert "Not sent after 8 s: the order worker may be down" in body and "never sent after 30 s" in body
    assert Order.objects.get(pk=order.pk).status == Order.Status.NEW
    age(order, 31)
    body = client.get(f"/orders/{order.pk}/row/").content.decode()
    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED
    assert "Not sent within 30 s" in body and "worker may be down" not in body
    later = place_order(trader, cleaned(price=D("0.03")), order.ticker)
    with worker_started():  # once the later order rests, the first one's queued task has run
        wait_for(lambda: Order.objects.filter(pk=later.pk, status=Order.Status.RESTING).exists(), timeout=30)
    assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED
    assert on_exchange(sim, trader, order) == []


def test_the_sweep_never_sends_an_old_unsent_order(sim, trader, settings, monkeypatch):
    settings.KALSHIWEB_RECONCILE_AFTER_SECONDS = 5
    settings.KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS = 30
    account, ticker = trader.kalshi_account, fresh_market(sim)
    old, lost = make_order(trader, account, ticker), make_order(trader, account, ticker)
    age(old, 60)
    age(lost, 10)  # its task was lost, but it is young enough to send
    queued: list[int] = []
    monkeypatch.setattr("trading.tasks.submit_order.delay", queued.append)
    monkeypatch.setattr("trading.tasks.reconcile_order.delay", lambda pk: None)
    monkeypatch.setattr("trading.tasks.amend_order.delay", lambda pk: None)
    reconcile_stuck_orders()
    assert sorted(queued) == sorted([old.pk, lost.pk])
    assert [submit_order.run(pk) for pk in (old.pk, lost.pk)] == ["expired", Order.Status.RESTING]
    assert Order.objects.get(pk=old.pk).status == Order.Status.EXPIRED
    assert on_exchange(sim, trader, old) == [] and len(on_exchange(sim, trader, lost)) == 1


def test_the_task_refuses_an_old_order_but_finds_one_an_earlier_attempt_placed(sim, trader, settings):
    """An old order an earlier attempt may have placed is looked up on the exchange, not expired blindly."""
    settings.KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS = 30
    account, ticker = trader.kalshi_account, fresh_market(sim)
    placed, never = make_order(trader, account, ticker), make_order(trader, account, ticker)
    from trading.clients import client_for

    client_for(account).submit_order(order_request(placed))  # an attempt whose answer we never applied
    for order in (placed, never):
        Order.objects.filter(pk=order.pk).update(attempts=1)
        age(order, 45)
    assert submit_order.run(placed.pk) == "found"
    assert Order.objects.get(pk=placed.pk).status == Order.Status.RESTING
    assert len(on_exchange(sim, trader, placed)) == 1
    assert submit_order.run(never.pk) == "expired"
    assert Order.objects.get(pk=never.pk).status == Order.Status.EXPIRED
    assert on_exchange(sim, trader, never) == []


def test_expiry_and_the_workers_claim_race_and_exactly_one_wins(sim, trader):
    account, ticker = trader.kalshi_account, fresh_market(sim)
    first, second = make_order(trader, account, ticker), make_order(trader, account, ticker)
    a, b = Order.objects.get(pk=first.pk), Order.objects.get(pk=first.pk)
    assert a.mark_submitting() and not b.expire_unsent("late")
    assert Order.objects.get(pk=first.pk).status == Order.Status.SUBMITTING
    a, b = Order.objects.get(pk=second.pk), Order.objects.get(pk=second.pk)
    assert b.expire_unsent("too old") and not a.mark_submitting()
    assert Order.objects.get(pk=second.pk).status == Order.Status.EXPIRED
