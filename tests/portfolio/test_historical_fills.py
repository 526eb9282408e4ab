"""Issue #15 (history), done when: a fill older than Kalshi's historical cutoff is counted in P&L.

Alice's account bought 5 YES at $0.40 and the market settled YES, all before the app stored the fill (the
feed was down); then the cutoff moved past it, so `/portfolio/fills` no longer lists it. The portfolio
refresh (the real client over loopback HTTP to the simulator) must read `/historical/fills` too: realized
P&L is 5 × $0.60 = $3.00. Without the historical read the app holds no fill and shows $0.00."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from portfolio import services
from tests.helpers import sim_post
from tests.trading.orderkit import counterparty, exchange_bid, fresh_market, hit_bid, make_order
from trading.clients import client_for, forget_clients
from trading.fills import record_fill, sync_fills
from trading.models import Fill

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def archived_fill(sim, trader):
    """Alice's resting bid (an order the app placed) filled by Bob; the market settled YES; cutoff moved."""
    account = trader.kalshi_account
    ticker = fresh_market(sim)
    coid, order = exchange_bid(sim, trader.sim_user_id, ticker, D("5"), D("0.40"))
    row = make_order(trader, account, ticker, count=D("5"), price=D("0.40"))
    row.client_order_id, row.exchange_order_id = coid, order.order_id
    row.save(update_fields=["client_order_id", "exchange_order_id"])
    bob = counterparty(sim)
    hit_bid(bob, ticker, D("5"), D("0.40"))
    sim_post(sim, f"/_sim/markets/{ticker}/settle", {"result": "yes"})
    time.sleep(0.3)  # the simulator's clock moves past the fill and the settlement
    sim_post(sim, "/_sim/historical/cutoff", {})
    yield account, ticker
    bob.close()
    forget_clients()


def test_a_fill_older_than_the_cutoff_is_counted_in_pnl(archived_fill, trader, client):
    account, ticker = archived_fill
    kalshi = client_for(account)
    assert kalshi.get_fills(ticker=ticker).items == ()  # the live list no longer has it
    assert Fill.objects.filter(account=account).count() == 0

    services.refresh(account, kalshi)

    fills = list(Fill.objects.filter(account=account).values_list("ticker", "count", "user"))
    assert fills == [(ticker, D("5.00"), trader.pk)]  # attributed to the trader through the order
    assert services.ledger_for(account, trader).realized == D("3.00")
    assert services.ledger_for(account).realized == D("3.00")
    client.force_login(trader)
    html = client.get("/portfolio/").content.decode()
    assert 'id="pf-realized">+$3.00<' in html


def test_syncing_again_reads_no_fill_twice(archived_fill):
    account, _ticker = archived_fill
    kalshi = client_for(account)
    assert sync_fills(account, kalshi, source="test") == 1
    assert sync_fills(account, kalshi, source="test") == 0
    assert Fill.objects.filter(account=account).count() == 1


def test_a_market_known_only_from_old_fills_is_stored_and_browsable_with_its_chart(
    archived_fill, trader, client
):
    from markets.models import Market

    account, ticker = archived_fill
    assert not Market.objects.filter(ticker=ticker).exists()  # the app never listed it
    services.refresh(account, client_for(account))
    market = Market.objects.get(ticker=ticker)
    assert (market.status, market.result) == ("finalized", "yes")

    client.force_login(trader)
    assert client.get("/portfolio/settlements/").status_code == 200
    body = client.get(
        f"/markets/{ticker}/", {"partial": "market-chart", "period": "1"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Price history unavailable" not in body


def test_a_new_fill_from_the_stream_does_not_hide_the_older_history(archived_fill, trader, sim):
    """The first REST sync after the cutoff moved reads the old fill even though a newer fill was already stored
    (from the private stream): completeness is tracked by `fills_synced_through`, not by the newest fill."""
    from tests.trading.orderkit import rest_fill

    account, _old_ticker = archived_fill
    sim_post(sim, "/_sim/advance", {"seconds": 600})  # the new fill comes well after the cutoff
    ticker = fresh_market(sim)
    bob = counterparty(sim)
    sim.call(
        sim.exchange.create_order,
        trader.sim_user_id,
        ticker=ticker,
        side="bid",
        count=D("1"),
        price=D("0.10"),
        time_in_force="good_till_canceled",
    )
    assert bob.order(ticker, "ask", "1.00", "0.1000", time_in_force="immediate_or_cancel").status_code == 201
    newest = sim.call(lambda: sim.exchange.account(trader.sim_user_id).fills[0])
    record_fill(account, rest_fill(newest), source="fill stream")  # as the feed would, before any REST sync
    bob.close()

    assert sync_fills(account, client_for(account), source="test") == 1  # the old one, from /historical/fills
    assert Fill.objects.filter(account=account).count() == 2
    account.refresh_from_db()
    assert account.fills_synced_through is not None


def test_an_order_we_thought_resting_that_finished_before_the_cutoff_is_reconciled(
    archived_fill, trader, sim
):
    """After the app was away longer than Kalshi's live window: GET /portfolio/orders/{id} no longer knows an
    order canceled back then (404); the reconcile finds it in /historical/orders and the row ends canceled."""
    from trading.fills import reconcile_account
    from trading.models import Order

    account, _ticker = archived_fill
    ticker = fresh_market(sim)
    placed = sim.call(
        sim.exchange.create_order,
        trader.sim_user_id,
        ticker=ticker,
        side="bid",
        count=D("2"),
        price=D("0.05"),
        time_in_force="good_till_canceled",
    )
    sim.call(sim.exchange.cancel_order, trader.sim_user_id, placed.order_id)
    row = make_order(trader, account, ticker, count=D("2"), price=D("0.05"))
    Order.objects.filter(pk=row.pk).update(exchange_order_id=placed.order_id, status=Order.Status.RESTING)
    time.sleep(0.3)
    sim_post(sim, "/_sim/historical/cutoff", {})

    kalshi = client_for(account)
    assert reconcile_account(account.pk, kalshi)[1] == 1
    row.refresh_from_db()
    assert row.status == Order.Status.CANCELED
