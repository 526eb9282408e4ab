"""Canceling: a trader's kill switch and "cancel all in market" touch only that trader's orders, also when two
traders share one Kalshi account; unsent orders are canceled at once. Real simulator over loopback, real Celery
worker on the Redis broker."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.factories import make_user
from tests.trading.orderkit import exchange_orders, fresh_market, make_order
from tests.trading.test_submission import wait_for
from trading.models import Order, TraderProfile
from trading.tasks import submit_order

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def bob(trader):
    """Bob, a second trader linked to the same Kalshi account as Alice."""
    user = make_user("bob")
    TraderProfile.objects.create(user=user, account=trader.kalshi_account)
    return user


def resting(user, account, ticker: str, price: str) -> Order:
    order = make_order(user, account, ticker, count=D("2"), price=D(price))
    assert submit_order.run(order.pk) == Order.Status.RESTING
    return Order.objects.get(pk=order.pk)


def on_exchange(sim, trader, order: Order) -> str:
    (remote,) = exchange_orders(sim, trader.sim_user_id, client_order_id=str(order.client_order_id))
    return str(remote.status)


def test_one_traders_kill_switch_leaves_the_other_traders_orders_on_a_shared_account(
    sim, trader, bob, celery_worker, client
):
    account = trader.kalshi_account
    ticker = fresh_market(sim)
    alices = [resting(trader, account, ticker, p) for p in ("0.02", "0.03")]
    bobs = [resting(bob, account, ticker, p) for p in ("0.04", "0.05")]
    bobs_unsent = make_order(bob, account, ticker, price=D("0.06"))  # its task not run yet

    client.force_login(bob)
    response = client.post("/orders/kill-switch/", {"confirm": "yes"})
    assert response.status_code == 302
    assert TraderProfile.objects.get(user=bob).halted
    assert not TraderProfile.objects.get(user=trader).halted

    for order in bobs:
        wait_for(lambda o=order: Order.objects.filter(pk=o.pk, status=Order.Status.CANCELED).exists())
        assert on_exchange(sim, trader, order) == "canceled"
    for order in alices:
        row = Order.objects.get(pk=order.pk)
        assert (row.status, row.cancel_requested) == (Order.Status.RESTING, False)
        assert on_exchange(sim, trader, order) == "resting"
    unsent = Order.objects.get(pk=bobs_unsent.pk)
    assert unsent.status == Order.Status.CANCELED and unsent.attempts == 0
    assert exchange_orders(sim, trader.sim_user_id, client_order_id=str(unsent.client_order_id)) == []
    assert "cancel_requested" in Order.objects.get(pk=bobs[0].pk).events.values_list("kind", flat=True)


def test_cancel_all_in_market_cancels_only_my_orders_in_that_market_and_shows_the_panel(
    sim, trader, bob, celery_worker, client
):
    account = trader.kalshi_account
    ticker, other = fresh_market(sim), fresh_market(sim)
    alices = resting(trader, account, ticker, "0.02")
    mine = [resting(bob, account, ticker, p) for p in ("0.03", "0.04")]
    elsewhere = resting(bob, account, other, "0.03")

    client.force_login(bob)
    response = client.post(f"/orders/market/{ticker}/cancel-all/", headers=HTMX)
    assert response.status_code == 200, response.status_code
    body = response.content.decode()
    assert 'id="orders-panel"' in body
    for order in mine:
        assert f'id="order-{order.pk}"' in body and "canceling…" in body
    assert f'id="order-{alices.pk}"' not in body

    for order in mine:
        wait_for(lambda o=order: Order.objects.filter(pk=o.pk, status=Order.Status.CANCELED).exists())
        assert on_exchange(sim, trader, order) == "canceled"
    assert Order.objects.get(pk=alices.pk).status == Order.Status.RESTING
    assert on_exchange(sim, trader, alices) == "resting"
    assert Order.objects.get(pk=elsewhere.pk).status == Order.Status.RESTING
    assert on_exchange(sim, trader, elsewhere) == "resting"


def test_a_failed_batch_cancel_falls_back_to_one_cancel_per_order(sim, trader, bob, celery_worker, client):
    account = trader.kalshi_account
    ticker = fresh_market(sim)
    alices = resting(trader, account, ticker, "0.02")
    bobs = [resting(bob, account, ticker, p) for p in ("0.03", "0.04")]
    sim.faults.fail_next(1, "500", path_prefix="/portfolio/events/orders/batched")
    try:
        client.force_login(bob)
        client.post("/orders/kill-switch/", {"confirm": "yes"})
        for order in bobs:
            wait_for(lambda o=order: Order.objects.filter(pk=o.pk, status=Order.Status.CANCELED).exists())
            assert on_exchange(sim, trader, order) == "canceled"
        assert not sim.faults._rules  # the batch cancel was tried, and failed
    finally:
        sim.faults.reset()
    assert Order.objects.get(pk=alices.pk).status == Order.Status.RESTING
    assert on_exchange(sim, trader, alices) == "resting"
