"""In headless Chromium, against a real daphne, the feed process and the simulator: a trader watches
a market page move, loses the socket (the page polls and says so), and gets live again."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from markets.models import Market
from tests.factories import make_user
from tests.helpers import landed

pytestmark = [pytest.mark.browser]


def yes_bid_text(page) -> str:
    return page.locator(".quote-line .yes").inner_text()


def test_a_price_moves_live_then_by_polling_then_live_again(sim, feed_process, daphne_server, page, settings):
    ticker = sim.call(
        lambda: next(
            t
            for t, m in sim.exchange.markets.items()
            if m.status == "active" and m.price_level_structure == "linear_cent"
        )
    )
    assert Market.objects.filter(ticker=ticker).exists()
    make_user("alice")
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(daphne_server))
    page.goto(f"{daphne_server}/markets/{ticker}/")
    badge = page.locator("#conn-badge")
    badge.filter(has_text="Live").wait_for(timeout=30000)

    def improve_bid(to: D) -> None:
        sim.call(
            sim.exchange.create_order,
            "sim-mm",
            ticker=ticker,
            side="bid",
            count=D("5"),
            price=to,
            time_in_force="good_till_canceled",
        )

    _yes, no = sim.call(sim.exchange.book, ticker)
    best_no = max((p for p, _ in no), default=D("0.50"))
    # A YES bid just below the best YES ask (1 − best NO bid) rests and becomes the new best bid.
    first = D(1) - best_no - D("0.01")
    improve_bid(first)
    page.locator(".quote-line .yes").filter(has_text=f"Yes {int(first * 100)}¢").wait_for(timeout=10000)

    # The server closes every socket and refuses reconnects for a while: the page must poll and say so.
    call_command("close_sockets", "--refuse-for", "12")
    badge.filter(has_text="Polling").wait_for(timeout=10000)
    started_polling = time.monotonic()
    second = first - D("0.01")
    sim.call(sim.exchange.cancel_all, "sim-mm")
    improve_bid(second)
    page.locator(".quote-line .yes").filter(has_text=f"Yes {int(second * 100)}¢").wait_for(timeout=30000)
    assert badge.inner_text() == "Polling"
    assert time.monotonic() - started_polling < 12, (
        "the change arrived by polling, before the socket came back"
    )

    badge.filter(has_text="Live").wait_for(timeout=60000)
