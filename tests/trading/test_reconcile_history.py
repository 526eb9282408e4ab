"""An order whose answer was lost, looked up after it finished and Kalshi moved it past the historical cutoff
(issue #15, history): the exchange took it, it filled, and `/portfolio/orders` no longer lists it — only
`/historical/orders` does. Reconciling must find it there; concluding "not on the exchange" would send it a
second time. The real client over loopback HTTP to the simulator."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from tests.helpers import sim_post
from tests.trading.orderkit import counterparty, exchange_bid, fresh_market, hit_bid, make_order
from trading import tasks
from trading.clients import forget_clients
from trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_order_finished_before_the_cutoff_is_found_in_the_history_not_sent_again(sim, trader, settings):
    # a resubmission would be queued, not run: we count orders instead
    settings.CELERY_TASK_ALWAYS_EAGER = False
    account = trader.kalshi_account
    ticker = fresh_market(sim)
    coid, remote = exchange_bid(sim, trader.sim_user_id, ticker, D("3"), D("0.40"))
    bob = counterparty(sim)
    hit_bid(bob, ticker, D("3"), D("0.40"))
    time.sleep(0.3)  # the simulator's clock moves past the fill
    sim_post(sim, "/_sim/historical/cutoff", {})
    assert not sim.call(
        lambda: [
            o
            for o in sim.exchange.orders.values()
            if o.client_order_id == coid and not sim.exchange.history.order_archived(o)
        ]
    ), "the order should be past the cutoff"

    row = make_order(trader, account, ticker, count=D("3"), price=D("0.40"))
    long_ago = timezone.now() - timedelta(minutes=10)
    Order.objects.filter(pk=row.pk).update(
        client_order_id=coid, status=Order.Status.UNKNOWN, submitted_at=long_ago
    )
    try:
        assert tasks.reconcile_order.run(row.pk) == "found"
    finally:
        bob.close()
        forget_clients()
    row.refresh_from_db()
    assert (row.status, row.exchange_order_id) == (Order.Status.EXECUTED, remote.order_id)
    assert sim.call(lambda: sum(1 for o in sim.exchange.orders.values() if o.client_order_id == coid)) == 1
