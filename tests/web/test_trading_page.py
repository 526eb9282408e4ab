"""In headless Chromium: a trader places an order on the market page, sees it sending then resting, the
simulator crosses it, the fill toast and blotter row appear without a reload, and another order is amended
(new limit and size) and then canceled.
Real parts throughout: daphne, the feed process (market data + the account's private streams), a Celery
worker, Redis, and the simulator over loopback."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import landed

pytestmark = [pytest.mark.browser]


def test_a_trader_places_sees_a_fill_and_cancels(
    sim, trader, feed_process, daphne_server, celery_worker, page
):
    ticker = sim.call(
        lambda: next(
            t
            for t, m in sim.exchange.markets.items()
            if m.status == "active" and m.price_level_structure == "linear_cent"
        )
    )
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(daphne_server))
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    # The ticket enables itself once the book is current.
    page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=30000)

    yes, no = sim.call(sim.exchange.book, ticker)
    best_bid = max((p for p, _ in yes), default=D("0.05"))
    best_ask = D(1) - max((p for p, _ in no), default=D("0.10"))
    assert best_ask - best_bid >= D("0.02"), "the test needs room inside the spread"
    price = best_bid + D("0.01")  # improves the bid: the next seller hits us first
    cents = str(int(price * 100))

    sim.faults.latency(1.0)  # long enough to see the order while it is being sent
    try:
        page.fill("#ticket input[name=count]", "5")
        page.fill("#ticket input[name=price_cents]", cents)
        page.click("#ticket button[type=submit]")
        row = page.locator("#open-orders-body tr").first
        try:
            row.locator(".badge").filter(has_text="sending…").wait_for(timeout=5000)
        except Exception:
            print("TICKET:", page.locator("#ticket").inner_text())
            print("ORDERS:", page.locator("#orders-panel").inner_text())
            raise
    finally:
        sim.faults.reset()
    row.locator(".badge").filter(has_text="resting").wait_for(timeout=30000)

    # Another trader sells into our bid: the fill comes back live.
    seller_key, _pem = sim.add_account()
    sim.call(
        sim.exchange.create_order,
        sim.user_id(seller_key),
        ticker=ticker,
        side="ask",
        count=D("5"),
        price=price,
        time_in_force="immediate_or_cancel",
    )
    page.locator("#toasts .toast").filter(has_text=f"Filled 5 YES {ticker}").wait_for(timeout=30000)
    page.locator("#my-fills-body tr").first.filter(has_text=ticker).wait_for(timeout=10000)
    # The panel shows open orders: the filled one leaves it; "All" shows it, filled, at its average price.
    row.wait_for(state="hidden", timeout=10000)
    page.locator("#orders-panel .show-btn", has_text="All").click()
    page.locator('#orders-panel[data-show="all"]').wait_for(timeout=10000)
    row = page.locator("#open-orders-body tr").first
    row.locator(".badge").filter(has_text="filled").wait_for(timeout=10000)
    assert row.locator("td.num").nth(0).inner_text() == "5/5"  # filled / contracts
    assert row.locator("td.num").nth(3).inner_text() == f"{cents}¢"  # the average fill price

    # A second order rests; cancel it from the panel.
    page.fill("#ticket input[name=count]", "2")
    page.fill("#ticket input[name=price_cents]", str(int(cents) - 1))
    page.click("#ticket button[type=submit]")
    second = page.locator("#open-orders-body tr").first
    second.locator(".badge").filter(has_text="resting").wait_for(timeout=30000)
    second_id = second.get_attribute("id")

    # Amend it in place: a new limit and size, sent by the worker, and the row shows the exchange's answer.
    lower = str(int(cents) - 2)
    second.locator("button", has_text="Amend").click()
    form = page.locator(f"#{second_id} form.amend-form")
    form.wait_for(timeout=10000)
    form.locator("input[name=count]").fill("3")
    form.locator("input[name=price_cents]").fill(lower)
    form.locator("button[type=submit]").click()
    amended = page.locator(f"#{second_id}")
    amended.locator("td.num").filter(has_text=f"{lower}¢").wait_for(timeout=30000)
    amended.locator("td.num").filter(has_text="3").first.wait_for(timeout=10000)
    amended.locator(".amending").wait_for(state="detached", timeout=30000)
    remote = sim.call(
        lambda: [o for o in sim.exchange.account(trader.sim_user_id).orders.values() if o.is_resting]
    )
    assert [(o.yes_price, o.remaining_count) for o in remote] == [(D(lower) / 100, D("3"))]

    page.locator(f"#{second_id} button", has_text="Cancel").click()
    page.locator(f"#{second_id} .badge").filter(has_text="canceled").wait_for(timeout=30000)
