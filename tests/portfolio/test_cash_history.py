"""Issue #15 (history), cash history: the portfolio refresh stores the account's deposits and withdrawals from
Kalshi (the simulator over loopback HTTP) and the portfolio page lists them — to the account's only trader
and to staff, never to one of several traders sharing the account."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from portfolio import cash, services
from portfolio.models import CashTransfer
from tests.helpers import sim_post
from tests.portfolio.helpers import add_trader
from trading.clients import client_for, forget_clients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def moved(sim, trader):
    key_id = trader.kalshi_account.api_key_id
    sim_post(sim, "/_sim/cash/deposit", {"key_id": key_id, "amount": "250.00", "type": "wire"})
    sim_post(sim, "/_sim/cash/withdraw", {"key_id": key_id, "amount": "40.25"})
    yield trader.kalshi_account
    forget_clients()


def test_the_portfolio_lists_deposits_and_withdrawals(moved, trader, client):
    services.refresh(moved, client_for(moved))
    rows = sorted(CashTransfer.objects.filter(account=moved).values_list("kind", "method", "amount"))
    opening = rows[0]
    assert opening[0] == "deposit" and opening[1] == "ach"  # the account's opening balance
    assert rows[1:] == [("deposit", "wire", D("250.00")), ("withdrawal", "ach", D("40.25"))]

    client.force_login(trader)
    html = client.get("/portfolio/").content.decode()
    assert 'id="pf-cash"' in html
    assert "+$250.00" in html and "−$40.25" in html


def test_refreshing_again_stores_nothing_twice_and_reads_cash_at_most_every_window(moved):
    kalshi = client_for(moved)
    assert cash.sync(moved, kalshi) == 3
    assert cash.sync(moved, kalshi) == 0
    assert cash.due(moved.pk) is True
    assert cash.due(moved.pk) is False  # the next refresh inside the window skips the two reads


def test_one_of_several_traders_on_an_account_does_not_see_its_cash(moved, trader, client):
    services.refresh(moved, client_for(moved))
    other = add_trader("bob-desk", moved)
    client.force_login(other)
    assert 'id="pf-cash"' not in client.get("/portfolio/").content.decode()
    other.is_staff = True
    other.save()
    assert 'id="pf-cash"' in client.get("/portfolio/").content.decode()


def test_the_cash_panel_is_pushed_live_and_polled(moved, trader, client, sim):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{trader.pk}", channel)
    services.refresh(moved, client_for(moved))

    async def receive() -> dict:
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    pushed = ""
    for _ in range(20):  # the refresh also pushes the figures and the balance; a timeout fails the test
        html = async_to_sync(receive)()["html"]
        if 'id="pf-cash"' in html:
            pushed = html
            break
    assert 'hx-swap-oob="true"' in pushed and "+$250.00" in pushed

    client.force_login(trader)
    polled = client.get("/portfolio/cash/", headers={"HX-Request": "true"}).content.decode()
    assert 'id="pf-cash"' in polled and 'hx-trigger="kw:poll30 from:body"' in polled and "−$40.25" in polled
