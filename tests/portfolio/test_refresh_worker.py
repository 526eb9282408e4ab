"""The refresh cycle end to end: a stale page queues one refresh, a real Celery worker reads the simulator
over HTTP, the snapshot becomes fresh and the new figures are pushed to the trader's group."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from portfolio import services, tasks
from portfolio.models import EquityPoint, PortfolioSnapshot
from tests.helpers import open_page

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_missing_snapshot_is_fetched_by_the_worker_and_pushed(sim, trader, celery_worker, client):
    layer = get_channel_layer()
    channel = open_page(trader.pk)
    client.force_login(trader)

    html = client.get("/portfolio/live/", headers={"HX-Request": "true"}).content.decode()
    assert "no snapshot from Kalshi yet" in html and "refreshing…" in html

    snapshot = wait_for(lambda: PortfolioSnapshot.objects.filter(account=trader.kalshi_account).first())
    balance = sim.call(lambda: sim.exchange.account(trader.sim_user_id).balance)
    assert snapshot.balance == balance
    assert EquityPoint.objects.filter(account=trader.kalshi_account).count() == 1

    # The refresh may push other panels too (the cash history): wait for the portfolio's own.
    async def receive() -> dict:
        return await asyncio.wait_for(layer.receive(channel), timeout=10)

    message = async_to_sync(receive)()
    while 'id="portfolio-live"' not in message.get("html", ""):
        message = async_to_sync(receive)()
    assert message["type"] == "user.update"
    assert 'id="portfolio-live"' in message["html"] and 'hx-swap-oob="true"' in message["html"]
    assert f"${balance:,.2f}" in message["html"]

    # Fresh now: the page shows it without asking again, and a second tab does not cause another call.
    html = client.get("/portfolio/live/", headers={"HX-Request": "true"}).content.decode()
    assert "stale" not in html.split('id="pf-snapshot"')[1][:60]
    assert tasks.request_refresh(trader.kalshi_account.pk) is False  # still inside the window


def test_a_failed_refresh_keeps_the_old_figures_and_says_why(sim, trader, celery_worker, client):
    from datetime import UTC, datetime

    account = trader.kalshi_account
    PortfolioSnapshot.objects.create(
        account=account, balance=D("12.34"), portfolio_value=0, as_of=datetime(2026, 1, 1, tzinfo=UTC)
    )
    sim.faults.fail_next(50, "500", path_prefix="/portfolio/balance")
    try:
        assert tasks.request_refresh(account.pk)
        snap = wait_for(
            lambda: PortfolioSnapshot.objects.exclude(last_error="").filter(account=account).first(),
            timeout=40,
        )
    finally:
        sim.faults.reset()
    assert snap.balance == D("12.34")
    client.force_login(trader)
    html = client.get("/portfolio/").content.decode()
    assert "Last refresh failed" in html and "stale" in html


def test_a_refresh_asked_for_inside_the_window_runs_when_the_window_ends(
    sim, trader, celery_worker, monkeypatch
):
    """Issue #12 item 4: a refresh ran 0.1 s before a fill; the fill's refresh fell inside the window and was
    dropped, so the stored balance stayed the one from before the fill (until the next beat)."""
    monkeypatch.setattr(services, "REFRESH_WINDOW", 2)
    account = trader.kalshi_account
    before = sim.call(lambda: sim.exchange.account(trader.sim_user_id).balance)
    assert tasks.request_refresh(account.pk) is True
    wait_for(lambda: PortfolioSnapshot.objects.filter(account=account, balance=before).exists())

    # The balance moves at the exchange (a fill, here a deposit) and the fill path asks for a refresh inside
    # the window: it is not queued now, but it must not be lost.
    sim.call(lambda: sim.exchange.deposit(trader.sim_user_id, D("0.22")))
    assert tasks.request_refresh(account.pk) is False
    assert tasks.request_refresh(account.pk) is False  # asked twice: still one follow-up
    started = time.monotonic()
    snapshot = wait_for(
        lambda: PortfolioSnapshot.objects.filter(account=account, balance=before + D("0.22")).first(),
        timeout=15,
    )
    assert time.monotonic() - started < 6, "ran when the 2 s window ended"
    from trading.balance import cached_balance

    assert cached_balance(account)[0] == before + D("0.22")  # the top bar's and the ticket's balance
    assert snapshot.balance == before + D("0.22")


def test_the_balance_is_refreshed_after_an_order_rests_and_after_it_is_canceled(
    sim, trader, celery_worker, monkeypatch
):
    """Issue #12 item 4: a resting order holds cash and a cancel frees it; the stored (shown) balance follows
    both without a reload, as it follows a fill."""
    from tests.trading.test_submission import cleaned, open_market
    from trading.models import Order
    from trading.services import place_order, request_cancels
    from trading.tasks import cancel_order

    monkeypatch.setattr(services, "REFRESH_WINDOW", 1)
    account = trader.kalshi_account
    ticker = open_market(sim)
    order = place_order(trader, cleaned(price=D("0.02"), count=D("50")), ticker)
    wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).exists())
    holding = sim.call(lambda: sim.exchange.account(trader.sim_user_id).balance)
    wait_for(lambda: PortfolioSnapshot.objects.filter(account=account, balance=holding).exists(), timeout=10)
    for pending in request_cancels(trader, [Order.objects.get(pk=order.pk)]):
        cancel_order.delay(pending.pk)
    wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.CANCELED).exists())
    freed = sim.call(lambda: sim.exchange.account(trader.sim_user_id).balance)
    assert freed > holding
    wait_for(lambda: PortfolioSnapshot.objects.filter(account=account, balance=freed).exists(), timeout=10)
