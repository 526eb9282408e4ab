"""In headless Chromium, against a real daphne, the feed process, a Celery worker and the simulator: the trader's
order group trips on the exchange when fills pass its limit and the Orders page says so live (and the ticket
refuses orders); the reset button reopens it; with the socket down, a trip still reaches the page by polling."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from tests.helpers import landed, wait_for_upstream_subscriber
from tests.trading.orderkit import counterparty, exchange_orders, fresh_market, hit_bid
from tests.trading.test_order_groups import resting, with_limit
from tests.trading.test_submission import cleaned, wait_for
from trading.models import OrderGroup
from trading.services import place_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(base))


def test_the_group_trips_live_blocks_and_reset_reopens(
    sim, trader, celery_worker, feed_process, daphne_server, page
):
    with_limit(trader, 5)
    ticker = fresh_market(sim)
    order = resting(place_order(trader, cleaned(count=D("10")), ticker))
    group = OrderGroup.objects.get(profile__user=trader)
    assert order.order_group_id == group.exchange_id

    login(page, daphne_server)
    page.goto(f"{daphne_server}/orders/")
    panel = page.locator("#order-group-panel")
    panel.locator('[data-state="active"]').wait_for(timeout=10000)
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    # the feed's private stream hears the trip only once it is subscribed (a sleep here raced the feed's start)
    wait_for_upstream_subscriber(sim, "order_group_updates")

    started = time.monotonic()
    hit_bid(counterparty(sim), ticker, D("6"))  # 6 contracts within 15 s > 5: the exchange trips the group
    panel.locator('[data-state="triggered"]').wait_for(timeout=10000)
    assert time.monotonic() - started < 8, "arrived live, not by the 30 s safety poll"
    (remote,) = exchange_orders(sim, trader.sim_user_id, client_order_id=str(order.client_order_id))
    assert remote.status == "canceled"
    assert "Tripped on the exchange" in panel.inner_text()
    # The orders the exchange canceled show canceled on the same page, without a reload.
    page.locator(f"#order-{order.pk} .badge").filter(has_text="canceled").wait_for(
        state="attached", timeout=5000
    )
    if shots := _shots():
        page.set_viewport_size({"width": 1440, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=f"{shots}/order-group-tripped-{scheme}.png")
        page.emulate_media(color_scheme="light")

    page.locator("#order-group-panel button", has_text="Reset order group").click()
    panel.locator('[data-state="active"]').wait_for(timeout=15000)
    assert not sim.call(lambda: sim.exchange.order_groups.groups[group.exchange_id].triggered)
    again = resting(place_order(trader, cleaned(), ticker))
    assert again.order_group_id == group.exchange_id

    # The socket is killed and refused: a trip on the exchange still reaches the page (by polling).
    call_command("close_sockets", "--refuse-for", "50")
    page.locator("#conn-badge").filter(has_text="Polling").wait_for(timeout=10000)
    # (triggered by another client of the account: the feed hears it, the page's poll shows it)
    sim.call(lambda: sim.exchange.order_groups.trigger(trader.sim_user_id, group.exchange_id))
    wait_for(lambda: OrderGroup.objects.filter(pk=group.pk, state="triggered").exists())
    panel.locator('[data-state="triggered"]').wait_for(timeout=20000)
    assert page.locator("#conn-badge").inner_text() == "Polling"
    (remote,) = exchange_orders(sim, trader.sim_user_id, client_order_id=str(again.client_order_id))
    assert remote.status == "canceled"


def _shots() -> str | None:
    import os

    return os.environ.get("KALSHIWEB_SHOTS_DIR")
