from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from markets import live
from markets.models import Watch
from tests.factories import make_market, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user = make_user("alice")
    client.force_login(user)
    return user


def test_it_requires_login_for_the_market_list(client):
    response = client.get("/markets/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_lists_open_markets_with_prices_in_cents(client, alice):
    make_market("KXFED-26DEC-T4.25", volume=Decimal(10))
    make_market("KXFED-26DEC-T4.50", status="finalized", title="Settled one")
    body = client.get("/markets/").content.decode()
    assert "Fed cuts rates in December?" in body
    assert "42¢" in body and "44¢" in body
    assert "Settled one" not in body


def test_it_searches_by_ticker_and_title(client, alice):
    make_market("KXFED-26DEC-T4.25")
    make_market("KXHIGHNY-26NOV25-B52.5", title="NYC high 52-53°F")
    body = client.get("/markets/", {"q": "highny"}).content.decode()
    assert "NYC high" in body and "Fed cuts" not in body
    body = client.get("/markets/", {"q": "fed cuts"}).content.decode()
    assert "Fed cuts" in body and "NYC high" not in body


def test_it_filters_markets_closing_within_a_day(client, alice):
    make_market("KXSOON-1", title="Closing soon", close_time=timezone.now() + timedelta(hours=2))
    make_market("KXLATER-1", title="Closing later", close_time=timezone.now() + timedelta(days=5))
    body = client.get("/markets/", {"closing": "24h"}).content.decode()
    assert "Closing soon" in body and "Closing later" not in body


def test_it_sorts_by_volume(client, alice):
    make_market("KXLOW-1", title="Low volume", volume=Decimal(5))
    make_market("KXHIGH-1", title="High volume", volume=Decimal(5000))
    body = client.get("/markets/", {"sort": "volume"}).content.decode()
    assert body.index("High volume") < body.index("Low volume")


def test_it_returns_only_the_table_partial_to_htmx(client, alice):
    make_market()
    response = client.get("/markets/", headers={"HX-Request": "true", "HX-Target": "market-table"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="market-table"')
    assert "<html" not in body


def test_it_shows_the_live_quote_from_the_feed_over_the_database_values(client, alice):
    make_market("KXLIVE-1")
    live.client().set("kw:quote:KXLIVE-1", json.dumps({"yes_bid": "0.61", "yes_ask": "0.63", "ts": 1}))
    try:
        body = client.get("/markets/KXLIVE-1/").content.decode()
    finally:
        live.client().delete("kw:quote:KXLIVE-1")
    assert "Yes 61¢ / 63¢" in body


def test_it_renders_the_market_detail_page_complete_without_javascript(client, alice):
    make_market("KXFED-26DEC-T4.25")
    body = client.get("/markets/KXFED-26DEC-T4.25/").content.decode()
    assert "Resolves YES if the Fed cuts." in body
    assert 'id="market-quote-KXFED-26DEC-T4_25"' in body
    assert 'id="market-book-KXFED-26DEC-T4_25"' in body
    assert 'ws-connect="/ws/markets/?view=detail&amp;tickers=KXFED-26DEC-T4.25"' in body


def test_it_returns_a_polling_partial_for_the_detail_quote(client, alice):
    make_market("KXFED-26DEC-T4.25")
    response = client.get(
        "/markets/KXFED-26DEC-T4.25/", {"partial": "market-quote"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="market-quote-KXFED-26DEC-T4_25"')
    assert "every 5s [document.body.dataset.live !== 'true']" in body


def test_it_404s_an_unknown_market(client, alice):
    assert client.get("/markets/NOPE-1/").status_code == 404


def test_it_toggles_a_star_and_shows_the_watchlist(client, alice):
    make_market("KXFED-26DEC-T4.25")
    response = client.post("/markets/KXFED-26DEC-T4.25/watch/", headers={"HX-Request": "true"})
    assert "★" in response.content.decode()
    assert Watch.objects.filter(user=alice, market_id="KXFED-26DEC-T4.25").exists()
    body = client.get("/markets/watchlist/").content.decode()
    assert "Fed cuts rates in December?" in body
    client.post("/markets/KXFED-26DEC-T4.25/watch/")
    assert not Watch.objects.filter(user=alice).exists()


def test_it_rejects_a_get_on_the_watch_toggle(client, alice):
    make_market()
    assert client.get("/markets/KXFED-26DEC-T4.25/watch/").status_code == 405


def test_a_trader_never_sees_another_traders_stars(client, alice):
    make_market("KXFED-26DEC-T4.25")
    bob = make_user("bob")
    Watch.objects.create(user=bob, market_id="KXFED-26DEC-T4.25")
    body = client.get("/markets/watchlist/").content.decode()
    assert "No starred markets yet" in body


def test_the_detail_page_draws_the_price_chart_from_the_exchanges_candlesticks(
    client, alice, sim_settings, sim
):
    from markets.sync import sync_markets

    sync_markets()
    ticker = sim.call(lambda: next(t for t, m in sim.exchange.markets.items() if m.status == "active"))
    body = client.get(f"/markets/{ticker}/", {"period": "1"}).content.decode()
    assert 'class="chart price-chart"' in body
    assert "Price history unavailable" not in body


def test_the_price_chart_says_when_the_exchange_is_unreachable(client, alice, settings):
    settings.KALSHI_API_BASE = "http://127.0.0.1:9/trade-api/v2"
    make_market("KXFED-26DEC-T4.25")
    body = client.get(
        "/markets/KXFED-26DEC-T4.25/", {"partial": "market-chart"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Price history unavailable" in body


def test_the_full_page_defers_the_chart_so_the_first_paint_never_waits_for_the_exchange(
    client, alice, settings
):
    settings.KALSHI_API_BASE = "http://127.0.0.1:9/trade-api/v2"
    make_market("KXFED-26DEC-T4.25")
    body = client.get("/markets/KXFED-26DEC-T4.25/").content.decode()
    assert "Loading price history" in body and 'hx-trigger="load, every 60s"' in body


def test_the_book_partial_draws_the_ladder_and_depth_chart(client, alice):
    make_market("KXBOOK-1")
    book = {
        "bids": [{"price": "0.42", "size": "250", "total": "250"}],
        "asks": [{"price": "0.44", "size": "300", "total": "300"}],
        "spread": "0.02",
        "ts": 1,
        "stale": False,
    }
    live.client().set("kw:book:KXBOOK-1", json.dumps(book))
    try:
        body = client.get(
            "/markets/KXBOOK-1/", {"partial": "market-book"}, headers={"HX-Request": "true"}
        ).content.decode()
    finally:
        live.client().delete("kw:book:KXBOOK-1")
    assert "spread 2¢" in body and "250" in body
    assert 'class="chart depth-chart"' in body
