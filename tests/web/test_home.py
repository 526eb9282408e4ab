"""The desk's home: no placeholder page; a trader opens on the markets, or on their portfolio when they hold a
position (issue #16)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model

from tests.helpers import landed


@pytest.mark.django_db
def test_the_home_page_opens_the_markets_after_login_with_the_environment_badge(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain == [("/markets/", 302), ("/login/?next=/markets/", 302)]
    assert b"env-badge env-simulator" in response.content
    assert b"SIMULATOR" in response.content


@pytest.mark.django_db
def test_it_rejects_post_on_the_home_page(client):
    assert client.post("/").status_code == 405


def test_a_trader_with_a_position_opens_on_the_portfolio_and_one_without_on_the_markets(trader, client):
    from django.utils import timezone

    from trading.models import Fill

    client.force_login(trader)
    assert client.get("/")["Location"] == "/markets/"
    fill = dict(
        account=trader.kalshi_account, user=trader, exchange_order_id="o-1", ticker="KXTEST-26DEC31-A"
    )
    fill |= dict(outcome_side="yes", action="buy", created_time=timezone.now())
    Fill.objects.create(
        fill_id="f-1", book_side="bid", yes_price=D("0.40"), count=D("3"), fee=D("0.02"), **fill
    )
    assert client.get("/")["Location"] == "/portfolio/"
    Fill.objects.create(
        fill_id="f-2", book_side="ask", yes_price=D("0.45"), count=D("3"), fee=D("0.02"), **fill
    )
    assert client.get("/")["Location"] == "/markets/", "a closed position is no position"


@pytest.mark.browser
def test_a_trader_logs_in_and_lands_on_the_markets_in_chromium(daphne_server, page):
    get_user_model().objects.create_user("alice", password="correct-horse-battery")
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(daphne_server))
    assert page.url == f"{daphne_server}/markets/"
    assert page.locator(".who").inner_text() == "alice"
    assert page.locator(".env-badge").inner_text() == "SIMULATOR"
