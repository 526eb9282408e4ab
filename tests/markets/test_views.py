from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from markets import live
from markets.models import Watch, WatchList
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


def test_the_markets_page_has_one_search_box_and_other_pages_the_top_bars(client, alice):
    make_market("KXFED-26DEC-T4.25")
    assert client.get("/markets/").content.decode().count('type="search"') == 1
    assert client.get("/markets/watchlist/").content.decode().count('type="search"') == 1


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
    assert 'hx-trigger="kw:poll from:body"' in body  # live.js fires it every 5 s while the socket is down


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


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "///evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "markets:detail",
    ],
)
def test_the_watch_toggle_never_redirects_off_site(client, alice, target):
    make_market("KXFED-26DEC-T4.25")
    response = client.post("/markets/KXFED-26DEC-T4.25/watch/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("markets:list")
    assert Watch.objects.filter(user=alice, market_id="KXFED-26DEC-T4.25").exists()


def test_the_watch_toggle_returns_to_a_page_on_this_site(client, alice):
    make_market("KXFED-26DEC-T4.25")
    response = client.post("/markets/KXFED-26DEC-T4.25/watch/", {"next": "/markets/?q=fed&page=2"})
    assert response.status_code == 302
    assert response["Location"] == "/markets/?q=fed&page=2"


def test_it_rejects_a_get_on_the_watch_toggle(client, alice):
    make_market()
    assert client.get("/markets/KXFED-26DEC-T4.25/watch/").status_code == 405


def test_a_trader_never_sees_another_traders_stars(client, alice):
    make_market("KXFED-26DEC-T4.25")
    bob = make_user("bob")
    theirs = WatchList.objects.create(user=bob, name="Bob's")
    Watch.objects.create(user=bob, watchlist=theirs, market_id="KXFED-26DEC-T4.25")
    body = client.get(f"/markets/watchlist/?list={theirs.pk}").content.decode()  # not hers: ignored
    assert "No starred markets yet" in body and "Bob&#x27;s" not in body
    assert client.post(f"/markets/watchlist/{theirs.pk}/delete/").status_code == 404
    assert WatchList.objects.filter(pk=theirs.pk).exists()


def test_named_watchlists_the_star_adds_to_the_list_looked_at_last(client, alice):
    make_market("KXFED-26DEC-T4.25")
    make_market("KXFED-26DEC-T4.50", title="Fed holds?")
    client.post("/markets/KXFED-26DEC-T4.25/watch/")  # the first star makes "Watchlist"
    (first,) = WatchList.objects.filter(user=alice)
    assert first.name == "Watchlist"
    response = client.post("/markets/watchlist/new/", {"name": "  Fed   week "})
    fed = WatchList.objects.get(user=alice, name="Fed week")
    assert response["Location"] == f"/markets/watchlist/?list={fed.pk}"
    client.post("/markets/KXFED-26DEC-T4.50/watch/")  # the new list is the active one
    assert list(fed.watches.values_list("market_id", flat=True)) == ["KXFED-26DEC-T4.50"]
    page = client.get(f"/markets/watchlist/?list={first.pk}").content.decode()  # back to the first
    assert "Fed cuts rates in December?" in page and "Fed holds?" not in page
    assert 'aria-current="page">Watchlist' in page and "Fed week" in page
    client.post("/markets/KXFED-26DEC-T4.50/watch/")  # now added to the first list
    assert set(first.watches.values_list("market_id", flat=True)) == {
        "KXFED-26DEC-T4.25",
        "KXFED-26DEC-T4.50",
    }
    # a clear refusal for a duplicate or blank name; nothing made
    refused = client.post("/markets/watchlist/new/", {"name": "fed WEEK"})
    assert refused.status_code == 400 and "already have a list called" in refused.content.decode()
    assert client.post("/markets/watchlist/new/", {"name": "   "}).status_code == 400
    assert WatchList.objects.filter(user=alice).count() == 2
    client.post(f"/markets/watchlist/{fed.pk}/delete/")
    assert list(WatchList.objects.filter(user=alice)) == [first] and first.watches.count() == 2


def test_the_detail_page_draws_the_price_chart_from_the_exchanges_candlesticks(
    client, alice, sim_settings, sim
):
    from markets.sync import sync_markets

    sync_markets()
    ticker = sim.call(lambda: next(t for t, m in sim.exchange.markets.items() if m.status == "active"))
    body = client.get(f"/markets/{ticker}/", {"period": "1"}).content.decode()
    assert 'class="chart price-chart"' in body
    assert "Price history unavailable" not in body
    # the candles the chart script draws: each opens a minute before the exchange's period end, in cents,
    # with high >= open, close >= low, and no volume when nothing traded
    from markets.models import Market
    from markets.services import price_history

    candles, error = price_history(Market.objects.get(ticker=ticker), 1)
    assert error is None and candles
    for c in candles:
        assert c["time"] == int(c["t"]) - 60
        o, h, lo, close = (Decimal(c[k]) for k in ("open", "high", "low", "close"))
        assert lo <= min(o, close) <= max(o, close) <= h and close == c["price"] * 100
        assert Decimal(c["volume"]) >= 0


def test_the_event_chart_has_a_line_for_each_market_from_the_exchanges_event_candlesticks(
    client, alice, sim_settings, sim
):
    import json
    import re as regex

    from markets.sync import sync_markets

    sync_markets()
    event = sim.call(
        lambda: next(
            e.event_ticker
            for e in sim.exchange.events.values()
            if e.mutually_exclusive
            and any(
                m.event_ticker == e.event_ticker and m.status == "active"
                for m in sim.exchange.markets.values()
            )
        )
    )
    page = client.get(f"/markets/events/{event}/").content.decode()
    assert "Loading price history" in page and 'hx-trigger="load"' in page  # the first paint never waits
    body = client.get(f"/markets/events/{event}/", {"partial": "event-chart"}).content.decode()
    found = regex.search(
        r'<script id="event-lines-data" type="application/json">(.*?)</script>', body, regex.S
    )
    assert found, body
    lines = json.loads(found.group(1))
    listed = regex.findall(r'<li data-ticker="([^"]+)">', body)
    assert sorted(line["ticker"] for line in lines) == sorted(listed) and len(lines) >= 2
    assert all(line["label"] and line["points"] for line in lines)
    assert all(0 < Decimal(p["value"]) < 100 for line in lines for p in line["points"])


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
    assert "Loading price history" in body and 'hx-trigger="load"' in body


def test_the_chart_partial_carries_candles_for_the_script_and_the_svg_fallback(client, alice, monkeypatch):
    from markets import services

    make_market("KXFED-26DEC-T4.25")
    candle = {"t": 1796464800.0, "price": Decimal("0.24"), "time": 1796461200}
    candle |= {"open": "25", "high": "27", "low": "23", "close": "24", "volume": "116"}
    later = dict(candle, t=1796468400.0, time=1796464800, close="29", price=Decimal("0.29"))
    monkeypatch.setattr(services, "price_history", lambda market, period: ([candle, later], None))
    body = client.get("/markets/KXFED-26DEC-T4.25/?partial=market-chart&period=60").content.decode()
    assert '<div class="candles" data-period="60"' in body
    assert '"open": "25", "high": "27", "low": "23", "close": "24", "volume": "116"' in body  # json_script
    assert '<div class="chart-fallback"><svg class="chart price-chart"' in body
    assert 'hx-trigger="kw:poll30 from:body"' in body  # live trades move it; no 60 s refetch while live


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


def _row_order(body: str, tickers: list[str]) -> list[str]:
    found = [(body.index(f'id="mrow-{t}"'), t) for t in tickers if f'id="mrow-{t}"' in body]
    return [t for _, t in sorted(found)]


def test_each_sort_orders_the_page_with_the_ticker_as_tie_break_and_empty_values_last(client, alice):
    now = timezone.now()
    make_market(
        "KXS-A",
        volume=Decimal(5),
        volume_24h=Decimal(9),
        spread=Decimal("0.05"),
        close_time=now + timedelta(days=2),
    )
    make_market("KXS-B", volume=Decimal(7), volume_24h=Decimal(1), spread=None, close_time=None)
    make_market(
        "KXS-C",
        volume=Decimal(5),
        volume_24h=Decimal(9),
        spread=Decimal("0.01"),
        close_time=now + timedelta(days=1),
    )
    tickers = ["KXS-A", "KXS-B", "KXS-C"]
    expected = {
        "volume": ["KXS-B", "KXS-A", "KXS-C"],
        "volume_24h": ["KXS-A", "KXS-C", "KXS-B"],
        "spread": ["KXS-C", "KXS-A", "KXS-B"],
        "close_time": ["KXS-C", "KXS-A", "KXS-B"],
        "ticker": ["KXS-A", "KXS-B", "KXS-C"],
    }
    for sort, order in expected.items():
        body = client.get("/markets/", {"sort": sort}).content.decode()
        assert _row_order(body, tickers) == order, sort


def test_pages_split_the_sorted_list_without_overlap_and_count_every_match(client, alice):
    from markets.services import PAGE_SIZE

    tickers = [f"KXPG-{i:03d}" for i in range(PAGE_SIZE + 7)]
    for i, t in enumerate(tickers):
        make_market(t, volume=Decimal(1000 - i), title=f"Paged market {i}")
    make_market("KXPG-OTHER", title="Elsewhere", status="finalized")
    first = client.get("/markets/").content.decode()
    second = client.get("/markets/", {"page": "2"}).content.decode()
    assert _row_order(first, tickers) == tickers[:PAGE_SIZE]
    assert _row_order(second, tickers) == tickers[PAGE_SIZE:]
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    searched = client.get("/markets/", {"q": "paged market 1", "page": "1"}).content.decode()
    expected = [t for i, t in enumerate(tickers) if f"Paged market {i}".startswith("Paged market 1")]
    assert _row_order(searched, tickers) == expected
    everything = client.get("/markets/", {"status": "all", "sort": "ticker", "page": "2"}).content.decode()
    assert 'id="mrow-KXPG-OTHER"' in everything  # status=all includes settled markets (sorted last by ticker)
    assert client.get("/markets/", {"page": "999"}).status_code == 200  # out of range: the last page


def test_the_category_filter_matches_the_event_or_the_series_category(client, alice):
    make_market("KXCAT-1", title="Economics one")
    other = make_market("KXOTH-1", title="Weather one")
    other.event.category = "Climate"
    other.event.save()
    other.series.category = "Climate"
    other.series.save()
    body = client.get("/markets/", {"category": "Climate"}).content.decode()
    assert "Weather one" in body and "Economics one" not in body


def test_the_list_rows_carry_the_same_links_and_live_cells_as_the_single_row_renderers(client, alice):
    """The list assigns ids and links in bulk; they must be what reverse() and the shared partials give, so
    the feed's out-of-band row updates (markets.publish) land on the list's elements."""
    from django.template.loader import render_to_string
    from django.urls import reverse

    from markets.models import Market

    make_market("KXODD-26.5-X", title="Odd ticker")
    body = client.get("/markets/").content.decode()
    assert 'id="mrow-KXODD-26_5-X"' in body
    assert f'href="{reverse("markets:detail", args=["KXODD-26.5-X"])}"' in body
    assert f'action="{reverse("markets:toggle_watch", args=["KXODD-26.5-X"])}"' in body
    market = Market.objects.get(ticker="KXODD-26.5-X")
    market.quote_ts = None
    single = render_to_string("markets/_fragments.html#row-quote", {"market": market})
    assert single.strip() in body
    polled = client.get(reverse("markets:row", args=["KXODD-26.5-X"])).content.decode()
    assert polled.strip() == single.strip()


def test_bulk_row_values_equal_what_the_partials_compute_from_a_market():
    """prepare_rows() hands the partials dicts with pre-escaped links: the rendered rows must be byte for byte
    what the same partial renders from the Market itself (as the feed and the polling row do)."""
    from django.template.loader import render_to_string
    from django.utils.html import escape

    from markets.models import Market
    from markets.services import prepare_rows

    tickers = ["KX-A.B", "KX-%41", "KX-ü", "KX-a b", "KX-!$&'()*+,;=:@~", "KX-<b>"]
    markets = [
        Market(ticker=t, title=f"<i>{t}</i>", yes_bid=Decimal("0.42"), last_price=Decimal("0.5"))
        for t in tickers
    ]
    for market in markets:
        market.quote_ts = 12.5
    for market, row in zip(markets, prepare_rows(markets), strict=True):
        for name, key in (("detail", "detail_url"), ("row", "row_url"), ("toggle_watch", "watch_url")):
            assert row[key] == escape(reverse(f"markets:{name}", args=[market.ticker]))
        ctx = {"watched": {tickers[0]}, "request": None}
        for partial in ("market-row", "row-quote"):
            from_market = render_to_string(f"markets/_fragments.html#{partial}", {**ctx, "market": market})
            from_row = render_to_string(f"markets/_fragments.html#{partial}", {**ctx, "market": row})
            assert from_row == from_market
        assert "<i>" not in from_row


def test_the_event_page_lists_its_markets_with_sums_against_a_dollar_and_my_position(client, alice):
    from django.utils import timezone

    from markets.models import Event
    from trading.models import Fill, KalshiAccount, TraderProfile

    # Three outcomes of one mutually exclusive event: asks sum to 97¢ (a riskless 3¢ per set), bids to 88¢.
    for ticker, bid, ask, last in (
        ("A", "0.30", "0.32", "0.31"),
        ("B", "0.50", "0.55", "0.52"),
        ("C", "0.08", "0.10", "0.09"),
    ):
        make_market(
            f"KXELEC-26NOV-{ticker}",
            yes_sub_title=f"Candidate {ticker}",
            yes_bid=Decimal(bid),
            yes_ask=Decimal(ask),
            last_price=Decimal(last),
        )
    make_market("KXOTHER-26NOV-X", title="Another event")
    Event.objects.filter(event_ticker="KXELEC-26NOV").update(mutually_exclusive=True, title="Who wins?")
    account = KalshiAccount.objects.create(name="acct-a", api_key_id="key-a")
    TraderProfile.objects.create(user=alice, account=account)
    fill = {
        "account": account,
        "user": alice,
        "exchange_order_id": "o",
        "outcome_side": "no",
        "action": "buy",
    }
    fill |= {
        "book_side": "ask",
        "yes_price": Decimal("0.52"),
        "fee": Decimal("0.01"),
        "created_time": timezone.now(),
    }
    Fill.objects.create(fill_id="f", ticker="KXELEC-26NOV-B", count=Decimal("4"), **fill)

    body = client.get("/markets/events/KXELEC-26NOV/").content.decode()
    assert "Who wins?" in body and "Another event" not in body
    # ordered by last price, each a link to its ladder
    assert body.index("Candidate B") < body.index("Candidate A") < body.index("Candidate C")
    assert 'href="/markets/KXELEC-26NOV-A/"' in body
    assert '<strong class="num" data-sum="asks">$0.97</strong>' in body
    assert "riskless 3¢ per set before fees" in body and 'class="event-sums riskless"' in body
    assert '<strong class="num" data-sum="bids">$0.88</strong>' in body and "no edge: owes $1.00" in body
    assert '<span class="no">4 NO</span>' in body  # alice's own position, in B only
    assert body.count('class="muted">—</span>') == 2

    # the market page links to its event; an event that is not mutually exclusive shows no sums
    assert 'href="/markets/events/KXELEC-26NOV/"' in client.get("/markets/KXELEC-26NOV-A/").content.decode()
    Event.objects.filter(event_ticker="KXELEC-26NOV").update(mutually_exclusive=False)
    assert 'id="event-sums"' not in client.get("/markets/events/KXELEC-26NOV/").content.decode()
    assert client.get("/markets/events/KXNOPE/").status_code == 404


def test_the_book_carries_its_depth_for_the_chart_script():
    from markets.templatetags.kalshi_charts import depth_data

    book = {
        "bids": [{"price": "0.42", "total": "10"}, {"price": "0.41", "total": "25.5"}],
        "asks": [{"price": "0.45", "total": "7"}, {"price": "0.455", "total": "9"}],
    }
    assert depth_data(book) == {"bids": [["41", "25.5"], ["42", "10"]], "asks": [["45", "7"], ["45.5", "9"]]}
    assert depth_data(None) == {"bids": [], "asks": []}
