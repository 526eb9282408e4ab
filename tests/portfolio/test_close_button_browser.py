"""A portfolio row's Close, in headless Chromium against a real daphne: its answer must show even when the
page's live figures were re-rendered while it was in flight (a fill's push re-renders the whole live section
every few hundred milliseconds on an active account). The answer went to the old row's form, detached by then,
and the trader saw nothing (seen in CI: the desk test's "Flatten sent: sell 2 YES" never appeared)."""

from __future__ import annotations

import time

import pytest

from tests.helpers import browser_login
from tests.portfolio.helpers import make_fill, make_trader
from tests.trading.test_submission import list_market
from tests.web.test_ops_csp_browser import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_answer_to_close_shows_although_the_row_was_re_rendered_meanwhile(daphne_server, page):
    alice, account = make_trader("alice")
    list_market("KX-CLOSE-A")
    make_fill(account, "KX-CLOSE-A", "bid", "0.40", "10", user=alice)
    browser_login(page, daphne_server)
    page.goto(f"{daphne_server}/portfolio/")
    row = page.locator('tr.pf-row[data-ticker="KX-CLOSE-A"]')
    row.locator("form.pf-close button").wait_for(timeout=10000)

    row.locator("form.pf-close").evaluate("form => { form.dataset.sentClose = '1' }")
    held = []
    page.route("**/flatten/", lambda route: held.append(route))  # answered below, after the re-render
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("form.pf-close button").click()
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the Close request was not sent"
    with page.expect_response(lambda r: "/portfolio/live/" in r.url):
        page.evaluate("htmx.trigger(document.body, 'kw:portfoliotick')")
    # the re-render has swapped: the form that sent Close is gone, a fresh one stands in its place
    page.wait_for_function("!document.querySelector('form.pf-close[data-sent-close]')", timeout=10000)
    assert row.locator("form.pf-close").count() == 1
    held[0].continue_()

    # whatever the answer (sent, or why not: here no order book has arrived), the trader sees it
    row.locator(".pf-close-status").wait_for(timeout=10000)
    page.set_viewport_size({"width": 1440, "height": 900})
    shoot(page, "portfolio-close-answer")
