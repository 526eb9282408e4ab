"""In headless Chromium, against a real daphne, the feed process and the simulator: a fill on the exchange
moves the position row and the totals without a reload; with the socket killed the page says it is
polling, and the next fill still arrives (by polling)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from portfolio import services
from tests.helpers import landed
from tests.web.test_ops_csp_browser import shoot, shots_wanted
from trading.clients import client_for, forget_clients

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def held_market(sim, trader):
    """Two fresh markets with two-sided books (30¢ / 60¢); in the first, Alice holds 10 YES at 40¢."""
    from kalshiweb.simulator import engine

    tag = uuid.uuid4().hex[:6].upper()
    series, event = f"KXPFB{tag}", f"KXPFB{tag}-26DEC"
    tickers = [f"{event}-A", f"{event}-B"]
    mm = f"pf-mm-{tag}"

    def create() -> None:
        ex = sim.exchange
        ex.add_series(engine.Series(series, "Portfolio browser test", "Economics"))
        ex.add_event(engine.Event(event, series, "Browser test event"))
        for ticker in tickers:
            ex.add_market(
                engine.Market(
                    ticker,
                    event,
                    series,
                    f"Will the browser see {ticker[-1]}?",
                    f"Browser sees {ticker[-1]}",
                    "It does not",
                    open_time=ex.now - timedelta(days=1),
                    close_time=ex.now + timedelta(days=3),
                )
            )
        ex.add_account(mm, D("100000"))

    sim.call(create)

    def order(user: str, side: str, count: str, price: str, ticker: str = tickers[0]) -> None:
        """An order on the exchange; Alice's is hers in kalshiweb too (a local order row, linked by its
        client order id and exchange id), so its fills are her fills."""
        from trading.models import Order

        local = None
        if user == trader.sim_user_id:
            local = Order.objects.create(
                user=trader, account=trader.kalshi_account, ticker=ticker,
                outcome="yes" if side == "bid" else "no", action="buy", book_side=side,
                price=D(price) if side == "bid" else 1 - D(price), yes_price=D(price), count=D(count),
                status=Order.Status.RESTING,
            )  # fmt: skip
        time.sleep(0.01)
        sim.call(lambda: sim.exchange.advance(sim.app.now()))
        placed = sim.call(
            sim.exchange.create_order,
            user,
            ticker=ticker,
            side=side,
            count=D(count),
            price=D(price),
            time_in_force="good_till_canceled",
            client_order_id=str(local.client_order_id) if local else None,
        )
        if local is not None:
            Order.objects.filter(pk=local.pk).update(exchange_order_id=placed.order_id)

    order(mm, "ask", "10", "0.40")
    order(trader.sim_user_id, "bid", "10", "0.40")
    for ticker in tickers:
        order(mm, "ask", "100", "0.60", ticker)
        order(mm, "bid", "100", "0.30", ticker)
    yield tickers, order, mm


@pytest.fixture
def kalshi(trader):
    """Runs REST calls in a thread of their own: Playwright keeps an event loop running in this one."""
    pool = ThreadPoolExecutor(max_workers=1)
    account = trader.kalshi_account

    def run(fn):
        return pool.submit(lambda: fn(client_for(account))).result(timeout=30)

    yield run
    pool.submit(forget_clients).result(timeout=30)
    pool.shutdown()


def login(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(base))


def test_a_fill_moves_the_row_and_the_totals_live_then_by_polling(
    sim, trader, held_market, kalshi, celery_worker, feed_process, daphne_server, page
):
    (ticker, other), order, mm = held_market
    account = trader.kalshi_account
    kalshi(lambda c: services.refresh(account, c))  # a fresh snapshot, and the first fill stored

    login(page, daphne_server)
    page.goto(f"{daphne_server}/portfolio/")
    row = page.locator(f"#pf-row-{ticker.replace('.', '_')}")
    assert row.locator(".pf-contracts").inner_text() == "10"
    assert page.locator("#pf-exposure").inner_text() == "$4.00"
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    assert page.locator(".pf-when-live").is_visible() and not page.locator(".pf-when-polling").is_visible()

    # Alice buys 5 more YES at 60¢ on the exchange: the row and the totals move, no reload.
    started = time.monotonic()
    order(trader.sim_user_id, "bid", "5", "0.60")
    row.locator(".pf-contracts").filter(has_text="15").wait_for(timeout=15000)
    page.locator("#pf-exposure").filter(has_text="$7.00").wait_for(timeout=5000)
    assert time.monotonic() - started < 5, "arrived live, not by the 10 s safety poll"
    assert "$" in page.locator("#pf-unrealized").inner_text()
    assert page.locator("#pf-fees").inner_text() == kalshi(lambda c: fee_text(c, ticker))

    # A position in a market the page's socket did not watch: the row appears (at the latest by the
    # 10 s safety poll), the page starts watching it, and its mark then moves with that market's quotes.
    order(trader.sim_user_id, "bid", "2", "0.60", other)
    other_row = page.locator(f"#pf-row-{other}")
    other_row.locator(".pf-mark").filter(has_text="45¢").wait_for(timeout=15000)  # mid of 30¢ / 60¢
    page.wait_for_timeout(1500)  # the watch command and its snapshot
    started = time.monotonic()
    order(mm, "bid", "10", "0.50", other)
    other_row.locator(".pf-mark").filter(has_text="55¢").wait_for(timeout=8000)
    assert time.monotonic() - started < 5, "the quote arrived live"
    if shots_wanted():  # docs/screenshots (tests/screenshots.py), at the desk's size
        page.set_viewport_size({"width": 1440, "height": 900})
        shoot(page, "portfolio-positions")

    # The socket is killed and refused for a while: the page says it polls every 30 s, and still moves.
    call_command("close_sockets", "--refuse-for", "50")
    page.locator("#conn-badge").filter(has_text="Polling").wait_for(timeout=10000)
    assert page.locator(".pf-when-polling").is_visible()
    assert "every 30 s" in page.locator(".pf-when-polling").inner_text()
    # Keep the snapshot fresh, so that only the 30 s poll can bring the next fill.
    kalshi(lambda c: services.refresh(account, c))
    order(trader.sim_user_id, "bid", "5", "0.60")
    row.locator(".pf-contracts").filter(has_text="20").wait_for(timeout=40000)
    page.locator("#pf-exposure").filter(has_text="$11.20").wait_for(timeout=5000)  # A $10.00 + B $1.20
    assert page.locator("#conn-badge").inner_text() == "Polling"
    # The fill made the stored snapshot behind; the page said so and a worker brought the balance up to date.
    page.locator("#pf-snapshot:not(.stale)").wait_for(timeout=20000)
    balance = kalshi(lambda c: c.get_balance().balance)
    assert page.locator("#pf-balance").inner_text() == f"${balance:,.2f}"


def fee_text(client, ticker: str) -> str:
    """Kalshi's fees for the market, formatted as the page formats money."""
    (position,) = [p for p in client.get_positions(ticker=ticker).market_positions]
    return f"${position.fees_paid:.2f}"


def test_a_fill_moves_the_top_bar_balance_and_the_ticket_on_a_market_page(
    sim, trader, held_market, kalshi, celery_worker, feed_process, daphne_server, page
):
    """Issue #12 item 4: the top-bar balance and the ticket's "Position · Balance" moved only on reload."""
    (ticker, _), order, _ = held_market
    account = trader.kalshi_account
    kalshi(lambda c: services.refresh(account, c))  # the balance cached for the top bar, as a page shows it
    before = kalshi(lambda c: c.get_balance().balance)

    login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/{ticker}/")
    assert page.locator("#topbar-balance").inner_text() == f"${before:,.2f}"
    holdings = page.locator("#ticket-holdings")
    assert holdings.inner_text().startswith("Position 10 ·")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)

    order(trader.sim_user_id, "bid", "5", "0.60")  # takes the market maker's 60¢ ask
    holdings.filter(has_text="Position 15 ·").wait_for(timeout=15000)
    expected = kalshi(lambda c: c.get_balance().balance)
    assert expected <= before - D("3.00")  # 5 × 60¢, and the fee
    page.wait_for_function(
        "t => document.getElementById('topbar-balance').textContent === t",
        arg=f"${expected:,.2f}",
        timeout=20000,
    )
    page.wait_for_function(
        "t => document.getElementById('ticket-holdings').textContent.includes(t)",
        arg=f"Balance ${expected:,.2f}",
        timeout=20000,
    )
    assert page.url.endswith(f"/markets/{ticker}/")  # no reload: the same page all along


OOB_WATCH = """
window.__oobErrors = [];
document.addEventListener("htmx:oobErrorNoTarget", function (e) {
  var c = e.detail && e.detail.content;
  window.__oobErrors.push(c && c.outerHTML ? c.outerHTML.slice(0, 120) : "?");
});
"""


def test_a_fill_sends_each_page_only_the_fragments_it_shows(
    sim, trader, held_market, kalshi, celery_worker, feed_process, daphne_server, page, browser
):
    """Issue #12 item 19: every fill logged htmx:oobErrorNoTarget: portfolio figures were pushed to market
    pages and market rows to /portfolio/. A market page and /portfolio/, open at once, across fills."""
    (ticker, _), order, mm = held_market
    account = trader.kalshi_account
    kalshi(lambda c: services.refresh(account, c))
    order(trader.sim_user_id, "bid", "5", "0.55")  # rests (the book's ask is 60¢), in her orders panel
    console: list[str] = []
    login(page, daphne_server)
    other = page.context.new_page()
    pages = {"market": page, "portfolio": other}
    for p in pages.values():
        p.add_init_script(OOB_WATCH)
        p.on("console", lambda msg: console.append(msg.text))
    page.goto(f"{daphne_server}/markets/{ticker}/")
    other.goto(f"{daphne_server}/portfolio/")
    for p in pages.values():
        p.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)

    order(mm, "ask", "5", "0.55")  # fills her order: order, fill, portfolio, balance and quote pushes
    other.locator(f"#pf-row-{ticker} .pf-contracts").filter(has_text="15").wait_for(timeout=15000)
    page.locator("#ticket-holdings").filter(has_text="Position 15 ·").wait_for(timeout=15000)
    page.wait_for_timeout(3000)  # the refresh after the fill, and its push
    errors = {name: p.evaluate("window.__oobErrors") for name, p in pages.items()}
    assert errors == {"market": [], "portfolio": []}
    assert not [m for m in console if "oobErrorNoTarget" in m]


def test_the_equity_chart_is_drawn_by_the_chart_library(trader, daphne_server, page):
    from datetime import datetime

    from portfolio.models import EquityPoint

    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for minutes, total in ((0, "100.00"), (10, "104.50"), (20, "101.25")):
        at = start + timedelta(minutes=minutes)
        EquityPoint.objects.create(
            account=trader.kalshi_account, at=at, balance=D(total), portfolio_value=D(0)
        )
    login(page, daphne_server)
    page.goto(f"{daphne_server}/portfolio/")
    page.locator('.pf-equity .equity-lines.drawn[data-points="3"] canvas').first.wait_for(timeout=15000)
    assert not page.locator(".pf-equity .chart-fallback").is_visible()
