"""In headless Chromium at 1440x900: a trader places an entry with a bracket from the market page; the entry fills,
the take-profit rests on the exchange and the stop shows armed (and says Kalshi does not hold it); another trader
moves the YES bid through the stop; the stop fires once (one reduce-only IOC order on the exchange, the position
closed) and its take-profit is canceled. Real parts throughout: the simulator over loopback, daphne, the feed
process (market data, private streams and the brackets runner, as feed-leader tasks), a Celery worker, Redis.
Screenshots (light and dark) go to KALSHIWEB_SHOTS_DIR when it is set."""

from __future__ import annotations

import os
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.helpers import browser_login, wait_until
from tests.trading.orderkit import exchange_orders, fresh_market
from trading.brackets_models import Bracket
from trading.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || ""));
});
"""


def shoot(page, name: str) -> None:
    folder = os.environ.get("KALSHIWEB_SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(Path(folder) / f"{name}-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")


@pytest.fixture
def empty_market(sim):
    """A new open market with an empty book (made before the feed's market sync), so only this test moves it."""
    return fresh_market(sim)


def resting(sim, user_id: str, ticker: str, side: str, count: str, price: str):
    return sim.call(
        sim.exchange.create_order,
        user_id,
        ticker=ticker,
        side=side,
        count=D(count),
        price=D(price),
        time_in_force="good_till_canceled",
    )


def test_a_brackets_stop_fires_once_when_the_price_crosses_it_and_cancels_its_take_profit(
    sim, trader, empty_market, feed_process, daphne_server, celery_worker, browser
):
    ticker = empty_market
    bob_key, _pem = sim.add_account(D("100000"))
    bob = sim.user_id(bob_key)
    bid = resting(sim, bob, ticker, "bid", "10", "0.40")  # YES bid 40¢
    resting(sim, bob, ticker, "ask", "10", "0.45")  # YES ask 45¢

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    try:
        browser_login(page, daphne_server)
        page.goto(f"{daphne_server}/markets/{ticker}/")
        page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
        page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=30000)
        panel = page.locator(".brackets-panel")
        assert "Kalshi does not hold these." in panel.inner_text()
        form = page.locator("#bracket-form")
        form.wait_for(timeout=10000)
        form.locator("input[name=count]").fill("3")
        form.locator("input[name=price_cents]").fill("45")
        form.locator("input[name=take_profit_cents]").fill("60")
        form.locator("input[name=stop_cents]").fill("35")
        form.locator("button[type=submit]").click()
        page.locator("#bracket-form .placed").wait_for(timeout=10000)

        bracket = wait_until(lambda: Bracket.objects.first(), what="the bracket")
        row = page.locator(f"#bracket-{bracket.pk}")
        # The entry fills against Bob's ask; the take-profit rests on the exchange, the stop is armed here.
        row.filter(has_text="stop armed (held by kalshiweb)").wait_for(timeout=30000)
        wait_until(
            lambda: Order.objects.filter(
                client_order_id=bracket.take_profit_token, status="resting"
            ).exists(),
            timeout=30,
            what="the take-profit resting",
        )
        row.filter(has_text="resting").wait_for(timeout=30000)
        shoot(page, "brackets-armed")

        # Bob moves the YES bid from 40¢ through the 35¢ stop to 33¢.
        resting(sim, bob, ticker, "bid", "10", "0.33")
        sim.call(sim.exchange.cancel_order, bob, bid.order_id)

        row.filter(has_text="closed").wait_for(timeout=30000)
        assert "3 of 3 filled" in row.inner_text()
        bracket.refresh_from_db()
        assert bracket.status == Bracket.Status.DONE and bracket.trigger_seen == D("0.33")
        stop = bracket.stop_order
        assert stop.reduce_only and stop.time_in_force == "ioc" and stop.fill_count == 3
        tp = wait_until(
            lambda: Order.objects.filter(pk=bracket.take_profit_order_id, status="canceled").first(),
            timeout=30,
            what="the take-profit canceled",
        )
        assert tp.fill_count == 0
        # Once: one stop order here and on the exchange, and the position is flat there.
        assert Order.objects.filter(ticker=ticker, reduce_only=True).count() == 1
        assert len(exchange_orders(sim, trader.sim_user_id, client_order_id=str(bracket.stop_token))) == 1
        position = sim.call(lambda: sim.exchange.account(trader.sim_user_id).positions.get(ticker))
        assert position is None or position.position == 0
        page.locator("#toasts .toast").filter(has_text=f"Stop triggered on {ticker}").first.wait_for(
            timeout=10000
        )
        shoot(page, "brackets-done")

        page.goto(f"{daphne_server}/orders/")
        page.locator(f"#bracket-{bracket.pk}").filter(has_text="closed").wait_for(timeout=10000)
        assert page.evaluate("window.__csp") == []
    finally:
        context.close()
