"""Two traders on two subaccounts of one Kalshi account, as each sees it in headless Chromium against daphne
(issue #15 item 6): Alice's order rests and fills in subaccount 1, Bob's rests in subaccount 2. Each trader's
portfolio shows their own subaccount's balance and positions, and each one's orders page lists only their own
order — nothing of the other's, though both trade through the same key; the cash panel lists the desk's
transfers into the trader's subaccount, not the whole account's deposits."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from portfolio import services as portfolio_services
from tests.factories import make_user
from tests.helpers import browser_login
from tests.trading.orderkit import counterparty, fresh_market, funded_account, hit_bid
from tests.trading.test_submission import cleaned, list_market, wait_for
from tests.web.test_ops_csp_browser import shoot
from trading import subaccounts
from trading.clients import client_for
from trading.models import Order, TraderProfile
from trading.services import place_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_each_trader_sees_only_their_own_subaccount(sim, sim_settings, celery_worker, daphne_server, request):
    parent, _member = funded_account(sim, "desk", D("1000"))
    sub1 = subaccounts.create_subaccount(parent)
    sub2 = subaccounts.create_subaccount(parent)
    for sub, amount in ((sub1, D("300")), (sub2, D("200"))):
        transfer = subaccounts.order_transfer(parent, sub, amount)
        assert subaccounts.send_transfer(transfer.pk).status == "done"
    alice, bob = make_user("alice"), make_user("bob")
    TraderProfile.objects.create(user=alice, account=sub1)
    TraderProfile.objects.create(user=bob, account=sub2)
    ticker = fresh_market(sim)
    list_market(ticker)

    a = place_order(alice, cleaned(price=D("0.40"), count=D("10")), ticker)
    b = place_order(bob, cleaned(price=D("0.30"), count=D("5")), ticker)
    wait_for(lambda: Order.objects.filter(pk=b.pk, status=Order.Status.RESTING).first())
    wait_for(lambda: Order.objects.filter(pk=a.pk, status=Order.Status.RESTING).first())
    hit_bid(counterparty(sim), ticker, D("10"), D("0.40"))
    for sub in (sub1, sub2):
        portfolio_services.refresh(sub, client_for(sub))
    wait_for(lambda: Order.objects.filter(pk=a.pk, status=Order.Status.EXECUTED).exists())

    browser = request.getfixturevalue("browser")  # only now: its event loop would stop the setup's calls
    pages = {}
    for name in ("alice", "bob"):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        pages[name] = context.new_page()
        browser_login(pages[name], daphne_server, name)

    alice_page, bob_page = pages["alice"], pages["bob"]
    alice_page.goto(f"{daphne_server}/portfolio/")
    assert alice_page.locator("#pf-balance").inner_text().strip() == "$296.00"  # 300 - 10 x 0.40
    alice_page.locator(f"#pf-row-{ticker}").wait_for(timeout=10000)
    assert (
        alice_page.locator("#pf-balance")
        .locator("xpath=..")
        .inner_text()
        .startswith(f"Subaccount {sub1.subaccount} balance")
    ), alice_page.locator("#pf-balance").locator("xpath=..").inner_text()
    # her cash in and out is the desk's transfer into her subaccount, not the Kalshi account's deposits
    cash = alice_page.locator("#pf-cash").inner_text()
    assert "Transfer in" in cash and "+$300.00" in cash and "1,000" not in cash, cash
    shoot(alice_page, "portfolio-subaccount")

    bob_page.goto(f"{daphne_server}/portfolio/")
    assert bob_page.locator("#pf-balance").inner_text().strip() == "$198.50"  # 200 - his resting 5 x 0.30
    assert bob_page.locator(f"#pf-row-{ticker}").count() == 0  # Alice's position is not his
    assert (
        bob_page.locator("#pf-balance")
        .locator("xpath=..")
        .inner_text()
        .startswith(f"Subaccount {sub2.subaccount} balance")
    )

    bob_page.goto(f"{daphne_server}/orders/")
    bob_page.locator(f"#order-{b.pk}").wait_for(timeout=10000)
    assert bob_page.locator(f"#order-{a.pk}").count() == 0
    alice_page.goto(f"{daphne_server}/orders/")
    alice_page.locator(f"#order-{a.pk}").wait_for(timeout=10000)
    assert alice_page.locator(f"#order-{b.pk}").count() == 0
    for pg in pages.values():
        pg.context.close()
