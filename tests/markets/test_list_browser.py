"""The markets list in Chromium (issue #16): sorted by volume, it re-sorts itself as live volume changes the order
(a trade pushes a row past the others without a reload), and the changed prices show the direction they moved.
Real daphne, feed process, Redis and simulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from markets import live
from tests.helpers import browser_login, wait_until
from tests.simulator.simhelp import Trader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = "#market-table > .mrow:not(.head)"


def test_the_list_re_sorts_by_live_volume_and_marks_the_direction_of_a_price(
    sim, trader, feed_process, daphne_server, page
):
    from markets.sync import sync_markets

    sync_markets()
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/?sort=volume")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)

    def order() -> list[tuple[str, D]]:
        rows = page.locator(ROWS).evaluate_all(
            "rows => rows.map(r => [r.querySelector('small.ticker').textContent,"
            " r.querySelector('.quote-cells').dataset.volume])"
        )
        return [(t, D(v or "0")) for t, v in rows]

    first = order()
    top_volume = first[0][1]

    # the lowest row on the page that has a two-sided book on the 1¢ grid
    def tradable(ticker: str) -> bool:
        m = sim.exchange.markets[ticker]
        yes, no = sim.exchange.book(ticker)
        return m.status == "active" and m.price_level_structure == "linear_cent" and bool(yes and no)

    ticker = next(t for t, _ in reversed(first) if sim.call(lambda t=t: tradable(t)))
    assert ticker != first[0][0]
    # the feed (a new process per test) is subscribed to the page's markets: it has the market's book
    wait_until(lambda: live.get_book(ticker) is not None, timeout=20, what="the feed watching the market")
    _, no = sim.call(sim.exchange.book, ticker)
    price = D(1) - max(p for p, _ in no)  # the best YES ask
    last = sim.call(lambda: sim.exchange.markets[ticker].last_price)
    size = top_volume + 50
    bob, carol = Trader(sim, D("1000000")), Trader(sim, D("1000000"))
    assert bob.order(ticker, "ask", f"{size:.2f}", f"{price:.4f}").status_code == 201
    response = carol.order(ticker, "bid", f"{size:.2f}", f"{price:.4f}", time_in_force="immediate_or_cancel")
    assert response.status_code == 201, response.text
    page.evaluate("window.kwMarker = 1")  # gone if the page reloads

    try:
        wait_until(lambda: order()[0][0] == ticker, timeout=20, what="the traded market at the top")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {ticker} not first in {order()[:3]}") from None
    assert page.evaluate("window.kwMarker") == 1
    volumes = [v for _, v in order()]
    assert volumes == sorted(volumes, reverse=True)
    if last is not None and last != price:
        cell = page.locator(f"{ROWS} .quote-cells").first.locator(":scope > span").nth(2)
        assert cell.get_attribute("class").split()[-1] == ("tick-up" if price > last else "tick-down")
