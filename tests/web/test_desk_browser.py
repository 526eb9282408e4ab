"""The market page as a desk (issue #16), in headless Chromium against daphne, the feed process, a Celery worker,
Redis and the simulator over loopback: it fits one screen; a click on a ladder level then Enter rests an order
there; dragging the order's marker to another level amends it; Shift+X cancels all; `f` flattens a position;
`?` opens the "Keyboard shortcuts" overlay; no shortcut fires while typing. Screenshots (1440x900, light and
dark) go to KALSHIWEB_SHOTS_DIR when it is set."""

from __future__ import annotations

import re
import time
from decimal import Decimal as D
from typing import Any

import pytest

from tests.helpers import browser_login, open_cent_market, wait_until
from tests.web.test_ops_csp_browser import shoot
from trading.models import Order
from trading.services import position

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_desk(page: Any, server: str, ticker: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, server)
    page.goto(f"{server}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=30000)
    page.locator(".ladder tr.bid.level").first.wait_for(timeout=30000)


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def test_the_desk_fits_one_screen_and_the_ladder_places_amends_and_cancels(
    sim, trader, feed_process, daphne_server, celery_worker, page
):
    ticker = open_cent_market(sim)
    open_desk(page, daphne_server, ticker)
    for size in ({"width": 1440, "height": 900}, {"width": 1280, "height": 720}):
        page.set_viewport_size(size)
        page.evaluate("window.dispatchEvent(new Event('resize'))")
        for part in ("#ticket button[type=submit]", ".ladder", "#market-chart", "#orders-panel"):
            assert in_viewport(page, part), f"{part} is not in the first {size} viewport"
        assert page.evaluate("document.scrollingElement.scrollTop") == 0
    page.set_viewport_size({"width": 1440, "height": 900})
    shoot(page, "desk")

    # Click the best bid level, then Enter: a buy of YES rests there, at the ticket's size.
    page.fill("#ticket input[name=count]", "7")
    level = page.locator(".ladder tr.bid.level").first
    cents = level.get_attribute("data-cents")
    level.click()
    assert page.input_value("#ticket input[name=price_cents]") == cents
    assert page.is_checked("#ticket-action-buy") and page.is_checked("#ticket-outcome-yes")
    assert page.evaluate("document.activeElement.matches('#ticket button[type=submit]')")
    page.keyboard.press("Enter")
    order = wait_until(
        lambda: Order.objects.filter(user__username="alice", ticker=ticker, status="resting").first(),
        timeout=30,
    )
    assert (order.action, order.outcome, order.count, order.yes_price) == ("buy", "yes", D(7), D(cents) / 100)
    # the ticket kept the trader's choices for the next order (size, side), with a new token
    page.locator("#ticket .placed").wait_for(timeout=10000)
    assert page.input_value("#ticket input[name=count]") == "7"
    assert page.is_checked("#ticket-action-buy")
    # the order shows on its level of the ladder, draggable once its row says it rests (amendable)
    marker = page.locator(f'.ladder tr.bid.level[data-cents="{cents}"] .own-order[draggable="true"]')
    marker.wait_for(timeout=15000)
    # with its queue position once the exchange reports it (the orders panel polls it every 5 s)
    marker.locator(".own-queue").filter(has_text="ahead").wait_for(timeout=15000)
    shoot(page, "desk-own-order")

    # Drag it one level down the bid side: the order is amended to that price on the exchange.
    lower = page.locator(".ladder tr.bid.level").nth(1)
    lower_cents = lower.get_attribute("data-cents")
    marker.drag_to(lower)
    wait_until(
        lambda: (
            sim.call(
                lambda: [
                    o.yes_price
                    for o in sim.exchange.account(trader.sim_user_id).orders.values()
                    if o.is_resting
                ]
            )
            == [D(lower_cents) / 100]
        ),
        timeout=30,
    )
    page.locator(f'.ladder tr.bid.level[data-cents="{lower_cents}"] .own-order').wait_for(timeout=15000)

    # An amend form being filled in survives the orders panel re-rendering (a new order, a poll, a resync).
    page.locator(f"#order-{order.pk} button.amend").click()
    form = page.locator(f"#order-{order.pk} form.amend-form")
    form.wait_for(timeout=10000)
    form.locator("input[name=count]").fill("9")
    with page.expect_response(lambda r: "/orders/market/" in r.url and "/orders/?show=" in r.url):
        page.evaluate("htmx.trigger(document.body, 'kw:orders-changed')")
    page.wait_for_timeout(300)  # the swap settles
    assert form.locator("input[name=count]").input_value() == "9"
    form.locator("button", has_text="Back").click()
    page.locator(f"#order-{order.pk} button.amend").wait_for(timeout=10000)

    # The panel re-renders while the Amend request is in flight (held here until the new panel is in): the form
    # goes into the order's new row, not into the row that left the page.
    held: list = []
    amend_url = re.compile(rf"/orders/{order.pk}/amend/$")
    page.route(amend_url, lambda route: held.append(route))
    page.locator(f"#order-{order.pk} button.amend").click()
    for _ in range(100):  # route handlers run while Playwright is waiting, not in a plain sleep
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the Amend request was not sent"
    with page.expect_response(lambda r: "/orders/market/" in r.url and "/orders/?show=" in r.url):
        page.evaluate("htmx.trigger(document.body, 'kw:orders-changed')")
    page.wait_for_timeout(300)  # the new panel settles
    held[0].continue_()
    page.locator(f"#order-{order.pk} form.amend-form").wait_for(timeout=10000)
    page.unroute(amend_url)
    page.locator(f"#order-{order.pk} form.amend-form button", has_text="Back").click()
    page.locator(f"#order-{order.pk} button.amend").wait_for(timeout=10000)

    # Shift+X (not while typing): every order of the trader in this market is canceled.
    page.focus("#ticket input[name=count]")
    page.keyboard.press("Shift+X")  # typed into the field: no shortcut
    time.sleep(0.5)
    assert Order.objects.filter(pk=order.pk, cancel_requested=False).exists()
    page.locator("h1").click()  # focus out of the field
    page.keyboard.press("Shift+X")
    wait_until(lambda: Order.objects.filter(pk=order.pk, status="canceled").exists(), timeout=30)
    assert not sim.call(
        lambda: [o for o in sim.exchange.account(trader.sim_user_id).orders.values() if o.is_resting]
    )


def test_flatten_closes_the_position_and_the_overlay_lists_the_shortcuts(
    sim, trader, feed_process, daphne_server, celery_worker, page
):
    ticker = open_cent_market(sim)
    open_desk(page, daphne_server, ticker)
    # Shift+B loads a buy of YES at the best ask; Enter sends it: it crosses and fills.
    page.fill("#ticket input[name=count]", "3")
    page.locator("h1").click()
    page.keyboard.press("Shift+B")
    best_ask = min(
        D(c)
        for c in page.locator(".ladder tr.ask.level").evaluate_all("rows => rows.map(r => r.dataset.cents)")
    )
    assert D(page.input_value("#ticket input[name=price_cents]")) == best_ask
    page.keyboard.press("Enter")
    page.locator("#ticket-holdings").filter(has_text="Position 3").wait_for(timeout=30000)
    # one holdings line, and the preview still there (a push once replaced the preview with a second line)
    assert page.locator("#ticket-holdings").count() == 1
    assert page.locator("#ticket-preview").count() == 1
    user = trader
    assert position(trader.kalshi_account, ticker, user) == D(3)

    # `f` flattens: one reduce-only IOC sell of the 3 YES at the best bid.
    page.keyboard.press("f")
    page.locator("#desk-actions .placed").filter(has_text="Flatten sent").wait_for(timeout=10000)
    flatten = Order.objects.filter(user=user, ticker=ticker, action="sell").get()
    assert (flatten.outcome, flatten.count, flatten.time_in_force, flatten.reduce_only) == (
        "yes",
        D(3),
        "ioc",
        True,
    )
    page.locator("#ticket-holdings").filter(has_text="Position 0").wait_for(timeout=30000)
    assert position(trader.kalshi_account, ticker, user) == D(0)
    page.keyboard.press("f")  # nothing left to flatten: said plainly, nothing sent
    page.locator("#desk-actions .blocker").filter(has_text="no position").wait_for(timeout=10000)
    assert Order.objects.filter(user=user, ticker=ticker, action="sell").count() == 1

    # `?` opens the overlay with the trader's keys; Escape closes it.
    page.keyboard.press("?")
    dialog = page.locator("dialog#kb-help")
    dialog.get_by_role("heading", name="Keyboard shortcuts").wait_for(timeout=5000)
    assert dialog.locator('input[name="key_flatten"]').input_value() == "f"
    shoot(page, "desk-shortcuts")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=5000)

    # The portfolio row's Close does the same: buy 2 again, close them from /portfolio/ (after a confirm).
    page.fill("#ticket input[name=count]", "2")
    page.locator("h1").click()
    page.keyboard.press("Shift+B")
    page.keyboard.press("Enter")
    page.locator("#ticket-holdings").filter(has_text="Position 2").wait_for(timeout=30000)
    page.goto(f"{daphne_server}/portfolio/")
    row = page.locator(f'tr.pf-row[data-ticker="{ticker}"]')
    page.once("dialog", lambda d: d.accept())
    row.locator("form.pf-close button").click()
    row.locator(".pf-close-status.placed").filter(has_text="Flatten sent: sell 2 YES").wait_for(timeout=10000)
    wait_until(lambda: position(trader.kalshi_account, ticker, user) == D(0), timeout=30)
    assert Order.objects.filter(user=user, ticker=ticker, action="sell").count() == 2


def test_the_main_flow_works_from_the_keyboard_alone(
    sim, trader, feed_process, daphne_server, celery_worker, page
):
    """Tab to the book, Enter on a level, Enter to send: no mouse. Focus is visible, stays on the level while the
    book is pushed, and the order's outcome is announced (role=status)."""
    ticker = open_cent_market(sim)
    open_desk(page, daphne_server, ticker)
    page.locator("body").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('.ladder tr.bid.level')"):
            break
    else:
        raise AssertionError("Tab never reached the book's bid levels")
    cents = page.evaluate("document.activeElement.dataset.cents")
    ring = page.evaluate(
        "(() => { const el = document.activeElement; const s = getComputedStyle(el);"
        " return s.outlineStyle !== 'none' || getComputedStyle(el.querySelector('td')).boxShadow !== 'none'; })()"
    )
    assert ring, "the focused level shows no focus indicator"
    # the book is re-rendered by a push (someone quotes a new level): focus stays on the same level
    from tests.simulator.simhelp import Trader

    yes, _ = sim.call(sim.exchange.book, ticker)
    lowest = min(p for p, _ in yes)
    rows_before = page.locator(".ladder tr.level").count()
    assert Trader(sim, D("1000")).order(ticker, "bid", "3.00", f"{lowest - D('0.01'):.4f}").status_code == 201
    page.wait_for_timeout(2500)
    assert page.locator(
        f'.ladder tr.bid.level[data-cents="{int((lowest - D("0.01")) * 100)}"]'
    ).count() == 1 or (
        page.locator(".ladder tr.level").count()
        == rows_before  # a 10-level ladder may not show the new level
    )
    assert page.evaluate("document.activeElement.matches('.ladder tr.bid.level')")
    assert page.evaluate("document.activeElement.dataset.cents") == cents
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.matches('#ticket button[type=submit]')")
    assert page.input_value("#ticket input[name=price_cents]") == cents
    page.keyboard.press("Enter")
    page.locator("#ticket [role=status]").filter(has_text="Order sent").wait_for(timeout=15000)
    wait_until(
        lambda: Order.objects.filter(user=trader, ticker=ticker, status="resting").exists(), timeout=30
    )
    assert page.locator("#toasts[aria-live]").count() == 1
    # order status changes are read out
    assert page.locator("#open-orders-body[aria-live=polite]").count() == 1


def test_on_a_phone_the_desk_is_one_column_and_an_order_can_be_seen_and_canceled(
    sim, trader, feed_process, daphne_server, celery_worker, page
):
    ticker = open_cent_market(sim)
    open_desk(page, daphne_server, ticker)
    level = page.locator(".ladder tr.bid.level").first
    cents = level.get_attribute("data-cents")
    level.click()
    page.keyboard.press("Enter")
    order = wait_until(
        lambda: Order.objects.filter(user=trader, ticker=ticker, status="resting").first(), timeout=30
    )
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.evaluate("window.dispatchEvent(new Event('resize'))")
    page.wait_for_timeout(300)
    # no sideways scrolling of the page; the ticket, the book and my orders one under the other
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390 + 1
    boxes = {
        part: page.locator(part).first.bounding_box() for part in (".ladder", "#ticket", f"#order-{order.pk}")
    }
    assert all(b is not None and b["width"] <= 390 for b in boxes.values()), boxes
    row = page.locator(f"#order-{order.pk}")
    row.scroll_into_view_if_needed()
    assert row.locator(".badge").inner_text() == "resting" and cents in row.inner_text()
    shoot(page, "desk-phone")
    row.locator("button", has_text="Cancel").click()
    row.locator(".badge").filter(has_text="canceled").wait_for(state="attached", timeout=30000)
    wait_until(lambda: Order.objects.get(pk=order.pk).status == "canceled", timeout=30)


def test_the_desk_keeps_the_rules_open_for_the_trader_after_a_reload(trader, sim, daphne_server, page):
    from markets.sync import sync_markets

    sync_markets()
    ticker = open_cent_market(sim)
    browser_login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/{ticker}/")
    rules = page.locator("details.desk-extra.rules")
    assert rules.get_attribute("open") is None
    with page.expect_response(lambda r: r.url.endswith("/orders/desk-layout/") and r.status == 204):
        rules.locator("summary").click()
    page.reload()
    assert page.locator("details.desk-extra.rules").get_attribute("open") is not None


def test_the_ladder_turns_to_the_no_book_and_a_click_there_loads_a_no_order(
    sim, trader, feed_process, daphne_server, page
):
    ticker = open_cent_market(sim)
    open_desk(page, daphne_server, ticker)
    yes_bids = page.locator(".ladder tr.bid.level").evaluate_all("rows => rows.map(r => r.dataset.cents)")
    yes_asks = page.locator(".ladder tr.ask.level").evaluate_all("rows => rows.map(r => r.dataset.cents)")
    with page.expect_response(lambda r: r.url.endswith("/orders/desk-layout/") and r.status == 204):
        page.locator('.ladder-view [data-ladder-view="no"]').click()
    # NO asks on top (from the lowest YES bid: 100 − it), then the NO bids (from the YES asks)
    first = page.locator(".ladder tr.level").first
    assert first.locator("td").first.inner_text() == f"{100 - int(min(yes_bids, key=int))}¢"
    assert page.locator(".ladder th.top-label").inner_text() == "NO asks (= YES bids)"
    best_no_bid = page.locator(".ladder tr.ask.level").first  # the best YES ask, shown as the best NO bid
    assert best_no_bid.get_attribute("data-cents") == min(yes_asks, key=int)
    best_no_bid.click()
    assert page.is_checked("#ticket-outcome-no") and page.is_checked("#ticket-action-buy")
    assert page.input_value("#ticket input[name=price_cents]") == str(100 - int(min(yes_asks, key=int)))
    # a push of the book keeps the NO view, and so does a reload (per trader)
    page.wait_for_timeout(1500)
    assert page.locator(".ladder").get_attribute("data-view") == "no"
    page.reload()
    page.locator(".ladder tr.level").first.wait_for(timeout=30000)
    assert page.locator(".ladder th.top-label").inner_text() == "NO asks (= YES bids)"
    page.locator('.ladder-view [data-ladder-view="yes"]').click()
    assert page.locator(".ladder tr.level").first.get_attribute("data-side") == "ask"


def test_a_trader_widens_the_book_column_and_the_desk_keeps_it(trader, sim, daphne_server, page):
    from markets.sync import sync_markets

    sync_markets()
    ticker = open_cent_market(sim)
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, daphne_server)
    page.goto(f"{daphne_server}/markets/{ticker}/")
    book = page.locator(".desk-book")
    before = book.bounding_box()["width"]
    split = page.locator('.col-split[data-split="book"]').bounding_box()
    x, y = split["x"] + split["width"] / 2, split["y"] + 100
    with page.expect_response(lambda r: r.url.endswith("/orders/desk-layout/") and r.status == 204):
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y)
        page.mouse.move(x + 80, y)
        page.mouse.up()
    wider = book.bounding_box()["width"]
    assert 70 <= wider - before <= 90, (before, wider)
    page.reload()
    assert abs(page.locator(".desk-book").bounding_box()["width"] - wider) <= 3
    # the keyboard does the same: the ticket column's splitter, one step narrower
    trade = page.locator(".desk-trade").bounding_box()["width"]
    page.locator('.col-split[data-split="trade"]').focus()
    with page.expect_response(lambda r: r.url.endswith("/orders/desk-layout/")):
        page.keyboard.press("ArrowRight")
    assert page.locator(".desk-trade").bounding_box()["width"] < trade
