"""In headless Chromium, with the order worker down: a trader sees an order that is slow to send say so, cancels it
from its row, sees one that waited too long show expired with the reason, and "Cancel all in market" updates the
panel. Real daphne, Redis and simulator; the Celery worker is deliberately not running."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from tests.helpers import landed
from tests.trading.orderkit import fresh_market, make_order
from tests.trading.test_submission import open_market
from trading.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(base))


def aged(order: Order, seconds: float) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))
    return Order.objects.get(pk=order.pk)


def test_a_stuck_order_warns_can_be_canceled_and_an_old_one_shows_expired(sim, trader, daphne_server, page):
    account, ticker = trader.kalshi_account, fresh_market(sim)
    slow = aged(make_order(trader, account, ticker, price=D("0.02")), 8)
    old = aged(make_order(trader, account, ticker, price=D("0.03")), 29)  # expires (30 s) while on screen
    login(page, daphne_server)
    page.goto(f"{daphne_server}/orders/")
    # the Orders page has its socket: Live, not the "Offline" a trader once saw there (issue #16)
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    row = page.locator(f"#order-{slow.pk}")
    row.locator(".slow-to-send").filter(has_text="the order worker may be down").wait_for(timeout=10000)
    row.locator("button", has_text="Cancel").click()
    row.locator(".badge").filter(has_text="canceled").wait_for(state="attached", timeout=10000)
    assert Order.objects.get(pk=slow.pk).status == Order.Status.CANCELED

    expired = page.locator(f"#order-{old.pk}")
    expired.locator(".badge").filter(has_text="expired").wait_for(timeout=15000)
    assert "Not sent within 30 s" in expired.inner_text()
    assert Order.objects.get(pk=old.pk).status == Order.Status.EXPIRED


def test_cancel_all_in_market_updates_the_panel(sim, trader, daphne_server, page):
    ticker = open_market(sim)
    orders = [make_order(trader, trader.kalshi_account, ticker, price=D(p)) for p in ("0.02", "0.03")]
    login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#orders-panel button", has_text="Cancel all in market").click()
    for order in orders:
        page.locator(f"#order-{order.pk} .badge").filter(has_text="canceled").wait_for(
            state="attached", timeout=10000
        )
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) == {
        Order.Status.CANCELED
    }
