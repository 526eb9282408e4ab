"""The market page's candle chart in Chromium (issue #16): candles with volume from the exchange's history, the
live candle moved by a trade that reaches the page over the socket (no chart refetch), and the trader's own fill
marked on it. Real parts: daphne, the feed process, a Celery worker, Redis, the simulator."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from tests.helpers import open_cent_market, wait_until
from tests.web.test_desk_browser import open_desk
from tests.web.test_ops_csp_browser import shoot
from trading.models import Fill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chart_state(page: Any) -> dict[str, str]:
    return page.evaluate("Object.assign({}, document.querySelector('#market-chart .candles').dataset)")


def test_the_chart_draws_candles_moves_the_live_candle_and_marks_the_traders_fill(
    sim, trader, feed_process, daphne_server, celery_worker, page
):
    ticker = open_cent_market(sim)
    open_desk(page, daphne_server, ticker)
    page.locator("#market-chart .candles.drawn canvas").first.wait_for(timeout=20000)
    assert not page.locator("#market-chart .chart-fallback").is_visible()  # the SVG stays for no-JavaScript
    # the depth chart on the same library, the book's SVG depth hidden
    page.locator(".desk-book.depth-drawn #depth-live canvas").first.wait_for(timeout=15000)
    assert int(page.get_attribute("#depth-live", "data-levels") or "0") >= 2
    assert not page.locator(".desk-book .depth").is_visible()
    before = chart_state(page)
    assert int(before["candles"]) >= 1 and before["markers"] == "0"
    chart_requests: list[str] = []
    page.on("request", lambda r: chart_requests.append(r.url) if "partial=market-chart" in r.url else None)

    # Buy YES at the best ask: a trade on the exchange, pushed to the tape, and the trader's fill.
    _, no = sim.call(sim.exchange.book, ticker)
    best_ask = D(1) - max(p for p, _ in no)
    page.fill("#ticket input[name=count]", "3")
    page.fill("#ticket input[name=price_cents]", str(int(best_ask * 100)))
    page.click("#ticket button[type=submit]")
    fill = wait_until(lambda: Fill.objects.filter(user=trader, ticker=ticker).first(), timeout=30)

    def moved() -> dict[str, str] | None:
        now = chart_state(page)
        grew = D(now["lastVolume"]) > D(before["lastVolume"]) or int(now["candles"]) > int(before["candles"])
        return now if grew and now.get("markers") == "1" else None

    after = wait_until(moved, timeout=20, what="the live candle and the fill marker")
    assert D(after["lastClose"]) == fill.yes_price * 100
    assert chart_requests == [], "the chart moved by refetching, not from the pushed trade"
    shoot(page, "desk-chart")
