"""In headless Chromium: the trader types "YES is 63%" in the sizing panel, sees the edge against the live book,
the Kelly fraction and a size, and one click copies the size, side and price into the order ticket (nothing is
sent). Real daphne, feed process, Redis and simulator; no inline script (the page's CSP)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import browser_login
from tests.trading.orderkit import fresh_market
from tests.trading.test_brackets_browser import shoot
from trading.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def empty_market(sim):
    return fresh_market(sim)


def test_sizing_from_the_traders_probability_fills_the_ticket(
    sim, trader, empty_market, feed_process, daphne_server, browser
):
    ticker = empty_market
    bob_key, _pem = sim.add_account(D("100000"))
    bob = sim.user_id(bob_key)
    for side, price in (("bid", "0.53"), ("ask", "0.55")):
        sim.call(
            sim.exchange.create_order,
            bob,
            ticker=ticker,
            side=side,
            count=D("50"),
            price=D(price),
            time_in_force="good_till_canceled",
        )
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        browser_login(page, daphne_server)
        page.goto(f"{daphne_server}/markets/{ticker}/")
        page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
        page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=30000)
        page.locator("#sizing-p").fill("63%")
        result = page.locator("#sizing-result")
        result.filter(has_text="Best: buy YES @ 55¢").wait_for(timeout=15000)
        text = result.inner_text()
        assert "+6.3¢" in text and "14.5%" in text  # edge after the fee, full Kelly
        page.locator("#sizing-p").scroll_into_view_if_needed()
        shoot(page, "sizing")
        button = page.locator("[data-size-copy]")
        count = button.get_attribute("data-count")
        assert count and D(count) > 0
        button.click()
        ticket = page.locator("#ticket form")
        assert ticket.locator("input[name=count]").input_value() == count
        assert ticket.locator("input[name=price_cents]").input_value() == "55"
        assert ticket.locator("input[name=outcome][value=yes]").is_checked()
        assert ticket.locator("input[name=action][value=buy]").is_checked()

        # The trader's own fraction: a quarter Kelly halves the size.
        page.locator("#sizing-kelly").fill("0.25")
        result.filter(has_text="× 0.25").wait_for(timeout=15000)
        smaller = page.locator("[data-size-copy]").get_attribute("data-count")
        assert smaller and D(smaller) < D(count)

        # Thinking YES is overpriced suggests NO.
        page.locator("#sizing-p").fill("30")
        result.filter(has_text="Best: buy NO @ 47¢").wait_for(timeout=15000)
        assert not Order.objects.exists()  # sizing never sends anything
        assert not [e for e in errors if "Content Security Policy" in e]
    finally:
        context.close()
