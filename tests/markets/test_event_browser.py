"""The event page in Chromium (issue #16): every market of a mutually exclusive event side by side, the sum of YES
asks against $1.00 kept current as quotes are pushed (an order improving one outcome's ask moves it without a
reload), one click to an outcome's ladder. Real daphne, feed process, Redis and simulator."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from tests.helpers import browser_login, wait_until
from tests.simulator.simhelp import Trader
from tests.web.test_ops_csp_browser import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def exclusive_event(sim: Any) -> tuple[str, list[str]]:
    def pick() -> tuple[str, list[str]]:
        for event in sim.exchange.events.values():
            markets = [t for t, m in sim.exchange.markets.items() if m.event_ticker == event.event_ticker]
            active = [t for t in markets if sim.exchange.markets[t].status == "active"]
            if event.mutually_exclusive and len(markets) >= 2 and active == markets:
                if all(sim.exchange.markets[t].price_level_structure == "linear_cent" for t in markets):
                    return event.event_ticker, markets
        raise AssertionError("no mutually exclusive event with every market active")

    return sim.call(pick)


def asks_sum(sim: Any, tickers: list[str]) -> D | None:
    total = D(0)
    for ticker in tickers:
        _, no = sim.call(sim.exchange.book, ticker)
        if not no:
            return None
        total += D(1) - max(p for p, _ in no)
    return total


def test_the_event_page_keeps_the_sum_of_asks_current_and_opens_a_ladder(
    sim, trader, feed_process, daphne_server, page
):
    from markets.sync import sync_markets

    sync_markets()
    event, tickers = exclusive_event(sim)
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/events/{event}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    assert page.locator("#event-markets .mrow:not(.head)").count() == len(tickers)
    # one line per outcome on the chart (loaded after the first paint)
    page.locator(f'#event-chart .event-lines[data-series="{len(tickers)}"] canvas').first.wait_for(
        timeout=15000
    )
    shown = page.locator('#event-sums [data-sum="asks"]')

    def displayed() -> str:
        return shown.inner_text()

    # One outcome's ask improved by a cent: the page's sum follows, pushed, not reloaded.
    target = tickers[0]
    _, no = sim.call(sim.exchange.book, target)
    best_ask = D(1) - max(p for p, _ in no)
    bob = Trader(sim, D("100000"))
    response = bob.order(target, "ask", "5.00", f"{best_ask - D('0.01'):.4f}")
    assert response.status_code == 201, response.text
    page.evaluate("window.kwMarker = 1")  # gone if the page reloads

    def matches() -> bool:
        expected = asks_sum(sim, tickers)
        return expected is not None and displayed() == f"${expected:.2f}"

    wait_until(matches, timeout=20, what="the pushed sum of asks")
    assert page.evaluate("window.kwMarker") == 1
    _, no = sim.call(sim.exchange.book, target)
    assert D(1) - max(p for p, _ in no) <= best_ask - D("0.01")  # the sum includes Bob's better ask
    shoot(page, "event")

    page.locator(f'#event-markets a[href="/markets/{target}/"]').click()
    page.wait_for_url(f"{daphne_server}/markets/{target}/")
    page.locator(".ladder tr.level").first.wait_for(timeout=30000)
