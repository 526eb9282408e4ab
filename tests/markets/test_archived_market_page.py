"""Issue #15 (history): a market settled before Kalshi's historical cutoff stays browsable with its chart.

Its candlesticks leave `/series/.../candlesticks` (404) for `/historical/markets/{ticker}/candlesticks`; the
market page falls back to them, and a closed market's chart ends where its trading did."""

from __future__ import annotations

import time

import pytest

from tests.factories import make_user
from tests.helpers import sim_post
from tests.trading.orderkit import counterparty, fresh_market

pytestmark = pytest.mark.django_db


def test_an_archived_market_keeps_its_price_chart(client, sim_settings, sim):
    from markets.sync import sync_markets

    ticker = fresh_market(sim)
    maker, taker = counterparty(sim), counterparty(sim)
    for price in ("0.3000", "0.5000", "0.6000"):
        assert maker.order(ticker, "bid", "2", price).status_code == 201
        assert taker.order(ticker, "ask", "2", price, time_in_force="immediate_or_cancel").status_code == 201
        sim_post(sim, "/_sim/advance", {"seconds": 120})
    sim_post(sim, f"/_sim/markets/{ticker}/settle", {"result": "yes"})
    sync_markets()
    time.sleep(0.3)
    sim_post(sim, "/_sim/historical/cutoff", {})
    assert maker.get(f"/markets/{ticker}").status_code == 404  # gone from the live endpoints

    client.force_login(make_user("alice"))
    body = client.get(
        f"/markets/{ticker}/", {"partial": "market-chart", "period": "1"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Price history unavailable" not in body
    assert 'class="chart price-chart"' in body
    tape = client.get(
        f"/markets/{ticker}/", {"partial": "market-trades"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "60¢" in tape and "30¢" in tape  # the tape from /historical/trades
    maker.close()
    taker.close()


def test_a_market_archived_while_we_were_not_looking_is_stored_settled_not_closed(sim_settings, sim):
    from markets.models import Market
    from markets.sync import sync_markets

    ticker = fresh_market(sim)
    sync_markets()
    assert Market.objects.get(ticker=ticker).status == "active"
    sim_post(sim, f"/_sim/markets/{ticker}/settle", {"result": "no"})
    time.sleep(0.3)
    sim_post(sim, "/_sim/historical/cutoff", {})

    result = sync_markets()  # the live list no longer has it
    market = Market.objects.get(ticker=ticker)
    assert (market.status, market.result) == ("finalized", "no")
    assert result.closed == 0
