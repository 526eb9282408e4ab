"""In headless Chromium under the Content-Security-Policy: every page works (live socket, htmx requests, the
order ticket's preview) with no CSP violation. Screenshots (1440x900, light and dark) go to KALSHIWEB_SHOTS_DIR
when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import landed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "") + " " + (e.sample || ""));
});
"""


def shots_wanted() -> bool:
    return bool(os.environ.get("KALSHIWEB_SHOTS_DIR"))


def shoot(page, name: str) -> None:
    folder = os.environ.get("KALSHIWEB_SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(150)  # scripts that follow the scheme (the chart) redraw
        page.screenshot(path=str(Path(folder) / f"{name}-{scheme}.png"), full_page=False)
    page.emulate_media(color_scheme="light")


def test_pages_work_under_the_csp_without_violations(sim, trader, feed_process, daphne_server, browser):
    ticker = sim.call(
        lambda: next(
            t
            for t, m in sim.exchange.markets.items()
            if m.status == "active" and m.price_level_structure == "linear_cent"
        )
    )
    event = sim.call(lambda: sim.exchange.markets[ticker].event_ticker)
    trader.is_staff = trader.is_superuser = True  # the admin and the staff pages too
    trader.save()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    try:
        page.goto(f"{daphne_server}/login/")
        shoot(page, "login")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("button[type=submit]")
        page.wait_for_url(landed(daphne_server))

        page.goto(f"{daphne_server}/markets/{ticker}/")
        page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)  # connect-src: the socket
        page.fill("#ticket input[name=price_cents]", "2")
        page.fill("#ticket input[name=count]", "3")
        page.locator("#ticket-preview").filter(has_text="Cost").wait_for(timeout=10000)  # an htmx request
        shoot(page, "market")

        for path, ready in (
            ("/markets/", ".market-table, table"),
            ("/orders/", "#orders-panel"),
            ("/portfolio/", "main h1"),
            ("/markets/watchlist/", "main h1"),
            (f"/markets/events/{event}/", "#event-markets"),
            ("/orders/alerts/", "#alert-form"),
            ("/admin/", "#content"),
            ("/admin/trading/order/", "#changelist"),
            (f"/admin/markets/market/{ticker}/change/", "#content"),
            ("/admin/markets/market/feed-health/", "#content"),
        ):
            page.goto(f"{daphne_server}{path}")
            page.locator(ready).first.wait_for(timeout=10000)
            page.wait_for_timeout(500)
            shoot(page, path.strip("/").replace("/", "-"))
        violations = page.evaluate("window.__csp")
    finally:
        context.close()
    assert violations == []
    assert [m for m in console if "Content Security Policy" in m or "htmx:evalDisallowedError" in m] == []


def test_a_locked_login_tells_the_trader_why_and_for_how_long(daphne_server, page):
    from tests.factories import make_user

    make_user("alice")
    page.set_viewport_size({"width": 1440, "height": 900})
    for _ in range(10):
        page.goto(f"{daphne_server}/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "not-her-password")
        page.click("button[type=submit]")
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    message = page.get_by_role("alert")
    message.wait_for(timeout=10000)
    text = message.inner_text()
    assert "Too many failed logins for alice" in text and "locked for 15 minutes" in text
    shoot(page, "login-locked")
    page.goto(f"{daphne_server}/orders/")
    assert "/login/" in page.url  # not logged in
