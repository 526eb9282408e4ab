"""Resting order value on the portfolio page: the trader's own figure from their resting orders, the account's
from Kalshi's endpoint (fetched by a real Celery worker through the shared bucket, cached, never waited on)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.test import Client

from markets import live
from portfolio.resting import cache_key
from tests.trading.orderkit import fresh_market
from tests.trading.test_order_groups import resting
from tests.trading.test_submission import cleaned, wait_for
from trading.services import place_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_panel_shows_my_resting_value_and_kalshis_account_total(sim, trader, celery_worker):
    ticker = fresh_market(sim)
    resting(place_order(trader, cleaned(count=D("3"), price=D("0.02")), ticker))
    resting(
        place_order(trader, cleaned(count=D("10"), price=D("0.05"), outcome="no"), ticker)
    )  # buys NO at 5¢
    # An order of the same account placed outside kalshiweb: in Kalshi's total, not in mine.
    sim.call(
        lambda: sim.exchange.create_order(
            trader.sim_user_id,
            ticker=ticker,
            side="bid",
            count=D("4"),
            price=D("0.01"),
            time_in_force="good_till_canceled",
        )
    )
    live.client().delete(cache_key(trader.kalshi_account.pk), cache_key(trader.kalshi_account.pk) + ":lock")
    client = Client()
    client.force_login(trader)
    page = client.get("/portfolio/").content.decode()
    assert 'id="pf-resting-mine">$0.56<' in page  # 3 x $0.02 + 10 x $0.05
    assert "(2 orders)" in page
    assert "refreshing…" in page

    def account_total() -> str:
        body = client.get("/portfolio/resting/").content.decode()
        return body if 'id="pf-resting-account">$0.60<' in body else ""

    body = wait_for(account_total)  # + 4 x $0.01 outside kalshiweb
    assert 'id="pf-resting-mine">$0.56<' in body


def test_a_viewer_without_an_account_gets_an_empty_panel(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x")
    client.force_login(user)
    body = client.get("/portfolio/resting/").content.decode()
    assert 'id="pf-resting"' in body and "pf-resting-mine" not in body
