"""In headless Chromium, against a real daphne, the feed process and the simulator: a market the trader is
looking at settles on the exchange; without a reload the page shows it settled and the ticket locks
(issue #15 item 5). Then a second market closes early (its close date moved to now): same."""

from __future__ import annotations

import time

import pytest

from markets.models import Market
from tests.helpers import wait_for_upstream_subscriber
from tests.trading.test_orders_browser import login
from tests.trading.test_submission import open_market
from tests.web.test_ops_csp_browser import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_lifecycle_subscriber(sim, timeout: float = 30.0) -> None:
    """The feed's lifecycle stream is its own upstream socket: the page can be Live before it has subscribed,
    and a change made before that reaches the page only through the catch-up sync after it subscribes."""
    wait_for_upstream_subscriber(sim, "market_lifecycle_v2", timeout)


def preview_ticket(page, base: str, ticker: str) -> None:
    """The market page, live, with a ticket for 10 at 3¢ previewed (on a schedule other than flat)."""
    login(page, base)
    page.goto(f"{base}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    page.fill("#ticket input[name=count]", "10")
    page.fill("#ticket input[name=price_cents]", "3")
    page.locator("#ticket-preview").filter(has_text="Fee").wait_for(timeout=10000)
    assert "flat" not in page.locator("#ticket-preview").inner_text()


def test_a_market_settling_live_shows_settled_and_locks_the_ticket(
    sim, trader, feed_process, daphne_server, page
):
    ticker = open_market(sim)
    login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    badge = page.locator(".detail-head .status")
    assert badge.inner_text().startswith("Active")
    page.locator("#ticket button[type=submit]").wait_for(timeout=10000)
    wait_for_lifecycle_subscriber(sim)

    sim.call(sim.exchange.settle_market, ticker, "yes")

    badge.filter(has_text="Finalized · YES").wait_for(timeout=15000)
    page.locator("#ticket .blocker").filter(has_text="not open for trading").wait_for(timeout=15000)
    assert page.locator("#ticket input[name=count]").is_disabled()
    assert Market.objects.get(ticker=ticker).status == "finalized"
    page.set_viewport_size({"width": 1440, "height": 900})
    shoot(page, "market-settled")
    assert page.url.endswith(f"/markets/{ticker}/")  # no navigation happened


def test_a_market_closing_early_shows_closed(sim, trader, feed_process, daphne_server, page):
    ticker = open_market(sim)  # an active market of the simulator (the first test's is settled by now)
    login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    wait_for_lifecycle_subscriber(sim)
    sim.call(sim.exchange.close_market, ticker)
    page.locator(".detail-head .status").filter(has_text="Closed").wait_for(timeout=15000)
    page.locator("#ticket .blocker").filter(has_text="not open for trading").wait_for(timeout=15000)


def test_an_event_fee_override_updates_the_ticket_preview_live(
    sim, trader, feed_process, daphne_server, page
):
    from datetime import timedelta
    from decimal import Decimal

    ticker = open_market(sim)
    event_ticker, series_ticker = sim.call(
        lambda: (sim.exchange.markets[ticker].event_ticker, sim.exchange.markets[ticker].series_ticker)
    )
    preview_ticket(page, daphne_server, ticker)

    at = sim.exchange.now - timedelta(seconds=1)
    sim.app.discovery.schedule_event_fee_change(event_ticker, series_ticker, "flat", Decimal("2"), at)

    page.locator("#ticket-preview .fee-schedule").filter(has_text="flat ×2").wait_for(timeout=15000)
    page.set_viewport_size({"width": 1440, "height": 900})
    shoot(page, "market-fee-override")


@pytest.fixture
def fee_poll_every_second(monkeypatch):
    """The feed (started after this) reads the upcoming series fee changes every second, not every 5 minutes."""
    monkeypatch.setenv("KALSHIWEB_FEE_POLL_SECONDS", "1")


def test_a_scheduled_series_fee_change_reaches_the_ticket_at_its_time(
    fee_poll_every_second, sim, trader, feed_process, daphne_server, page
):
    from datetime import timedelta
    from decimal import Decimal

    from markets.models import Series

    # a market of another series than open_market's (whose event may carry the override test's flat ×2)
    first = open_market(sim)
    first_series = sim.call(lambda: sim.exchange.markets[first].series_ticker)
    ticker, series_ticker = sim.call(
        lambda: next(
            (t, m.series_ticker)
            for t, m in reversed(list(sim.exchange.markets.items()))
            if m.status == "active"
            and m.price_level_structure == "linear_cent"
            and m.series_ticker != first_series
        )
    )
    preview_ticket(page, daphne_server, ticker)

    at = sim.exchange.now + timedelta(seconds=6)
    sim.call(sim.app.discovery.schedule_series_fee_change, series_ticker, "flat", Decimal("3"), at)
    time.sleep(2)  # read ahead by the feed, not yet in force
    assert "flat" not in page.locator("#ticket-preview").inner_text()
    assert Series.objects.get(ticker=series_ticker).fee_type != "flat"

    page.locator("#ticket-preview .fee-schedule").filter(has_text="flat ×3").wait_for(timeout=15000)
    row = Series.objects.get(ticker=series_ticker)
    assert (row.fee_type, row.fee_multiplier) == ("flat", Decimal("3"))
    assert page.url.endswith(f"/markets/{ticker}/")  # no reload


def test_a_ticket_that_missed_the_status_signal_locks_by_the_badge(
    sim, trader, feed_process, daphne_server, page
):
    """The status frame swaps the badge and signals the ticket to re-render; if that re-render loses a race
    with another swap of the ticket (seen in CI), the badge says Closed while the ticket still trades. The page
    notices the disagreement and asks for the ticket again. Here the row closes and the badge changes with no
    signal at all: the ticket must lock by itself."""
    ticker = open_market(sim)
    login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=15000)
    Market.objects.filter(ticker=ticker).update(status="closed")
    try:
        page.evaluate("document.querySelector('.detail-head .status').dataset.status = 'closed'")
        page.locator("#ticket .blocker").filter(has_text="not open for trading").wait_for(timeout=10000)
        assert page.locator("#ticket input[name=count]").is_disabled()
    finally:
        Market.objects.filter(ticker=ticker).update(status="active")  # the simulator's market is still open


def test_the_tickets_own_refresh_is_not_held_behind_another_request_of_the_page(
    sim, trader, feed_process, daphne_server, page
):
    """The page re-asks its ticket by itself (a badge that says Closed, a book current again) through
    `htmx.ajax`, which without a source element makes its request on behalf of the document's body — and htmx
    allows one request per element at a time, queuing the rest. Any other body-level request still in flight
    (the desk's remembered layout POSTs, say, on a slow server) then held the ticket's refresh, and with it the
    lock of a ticket on a market that closed (a CI run saw the badge say Closed and no ticket request for 13 s).
    Here a body-level request hangs: the ticket must still lock."""
    ticker = open_market(sim)
    login(page, daphne_server)
    page.route("**/kw-test-hang/**", lambda route: None)  # never answered
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=15000)
    page.evaluate(f"() => {{ htmx.ajax('GET', '{daphne_server}/kw-test-hang/', {{swap: 'none'}}); }}")
    Market.objects.filter(ticker=ticker).update(status="closed")
    try:
        page.evaluate("document.querySelector('.detail-head .status').dataset.status = 'closed'")
        page.locator("#ticket .blocker").filter(has_text="not open for trading").wait_for(timeout=10000)
    finally:
        Market.objects.filter(ticker=ticker).update(status="active")  # the simulator's market is still open
