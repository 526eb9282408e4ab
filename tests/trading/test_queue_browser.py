"""Issue #15 (history), done when: queue position shown and changing as orders ahead fill — in headless
Chromium, against daphne, a real Celery worker, Redis and the simulator. Also the portfolio's cash panel.
Screenshots (1440x900, light and dark) go to KALSHIWEB_SHOTS_DIR when it is set."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from portfolio import services
from tests.factories import make_market
from tests.trading.orderkit import counterparty, fresh_market
from tests.trading.test_orders_browser import login
from tests.trading.test_queue_positions import clean_queue_keys, resting_order  # noqa: F401 (autouse fixture)
from trading.clients import client_for, forget_clients

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shoot(page, name: str) -> None:
    folder = os.environ.get("KALSHIWEB_SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(Path(folder) / f"{name}-{scheme}.png"), full_page=False)
    page.emulate_media(color_scheme="light")


def test_a_resting_order_shows_the_contracts_ahead_and_they_fall_as_orders_ahead_fill(
    sim, trader, celery_worker, daphne_server, page
):
    ticker = fresh_market(sim)
    make_market(ticker)  # the app knows it (the market page)
    bob, carol = counterparty(sim), counterparty(sim)
    try:
        assert bob.order(ticker, "bid", "6", "0.1500").status_code == 201
        mine = resting_order(sim, trader, ticker, "3", "0.15")
        page.set_viewport_size({"width": 1440, "height": 900})
        login(page, daphne_server)
        page.goto(f"{daphne_server}/orders/")
        cell = page.locator(f"#order-{mine.pk} #queue-{mine.pk}")
        cell.filter(has_text="6 ahead").wait_for(timeout=20000)
        shoot(page, "history-queue-orders")

        # Carol sells 4 into Bob's bid, which is ahead of ours: 2 contracts are left ahead.
        assert (
            carol.order(ticker, "ask", "4", "0.1500", time_in_force="immediate_or_cancel").status_code == 201
        )
        cell.filter(has_text="2 ahead").wait_for(timeout=20000)

        page.goto(f"{daphne_server}/markets/{ticker}/")
        page.locator(f"#queue-{mine.pk}").filter(has_text="2 ahead").wait_for(timeout=20000)
        shoot(page, "history-queue-market")
    finally:
        bob.close()
        carol.close()


def test_the_portfolio_shows_cash_in_and_out(sim, trader, daphne_server, page):
    account = trader.kalshi_account
    base = sim.rest_base.split("/trade-api")[0]
    for path, amount in (("/_sim/cash/deposit", "125.00"), ("/_sim/cash/withdraw", "20.00")):
        response = httpx.post(base + path, json={"key_id": account.api_key_id, "amount": amount}, timeout=10)
        assert response.status_code == 200, response.text

    def refresh() -> None:  # in a thread: Playwright's own event loop runs in this one
        services.refresh(account, client_for(account))
        forget_clients()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(refresh).result(timeout=30)
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, daphne_server)
    page.goto(f"{daphne_server}/portfolio/")
    panel = page.locator("#pf-cash")
    panel.filter(has_text="+$125.00").wait_for(timeout=10000)
    assert "−$20.00" in panel.inner_text()
    panel.scroll_into_view_if_needed()
    shoot(page, "history-portfolio-cash")
