"""Discovery on the market pages (issue #15 item 8): the list filters by series tag, and a sports market
shows its live game state from the exchange's live data (the simulator over loopback HTTP)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kalshiweb.simulator.discovery import LiveData, Milestone
from markets import live
from markets.models import Series
from markets.sync import sync_markets
from tests.factories import make_market, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user = make_user("alice")
    client.force_login(user)
    return user


def test_the_market_list_filters_by_series_tag(client, alice):
    fed = make_market("KXFED-26DEC-T4.25")
    Series.objects.filter(ticker="KXFED").update(tags=["Fed", "Rates"])
    other = make_market("KXCPI-26DEC-T3.0")
    Series.objects.filter(ticker="KXCPI").update(tags=["Inflation"])
    body = client.get("/markets/", {"tag": "Fed", "status": "all"}).content.decode()
    assert fed.ticker in body and other.ticker not in body
    assert '<option value="Fed" selected>' in body and "Inflation" in body  # the choices, grouped
    body = client.get("/markets/", {"tag": "Inflation", "status": "all"}).content.decode()
    assert other.ticker in body and fed.ticker not in body


def test_the_market_list_filters_by_the_exchanges_sports(client, alice, sim, sim_settings):
    from markets import discovery

    sim.app.discovery.add_sport("Basketball", ["Games"], {"Pro Basketball": ["Games"]})
    sim.app.discovery.add_sport("Soccer", ["Games"], {"EPL": ["Games"]})
    hoops = make_market("KXNBA-26DEC-LAL")
    Series.objects.filter(ticker="KXNBA").update(tags=["Basketball"], category="Sports")
    other = make_market("KXCPI-26DEC-T3.0")
    body = client.get("/markets/", {"sport": "Basketball", "status": "all"}).content.decode()
    assert hoops.ticker in body and other.ticker not in body
    assert '<option value="Basketball" selected>' in body and '<option value="Soccer">' in body
    assert discovery.sports() == ["Basketball", "Soccer"]  # cached: one request per 10 minutes


def test_without_the_exchange_the_sports_filter_is_not_offered(client, alice, settings):
    settings.KALSHI_API_BASE = "http://127.0.0.1:9/trade-api/v2"
    make_market("KXFED-26DEC-T4.25")
    body = client.get("/markets/").content.decode()
    assert "KXFED-26DEC-T4.25" in body and 'name="sport"' not in body


def test_sync_stores_series_tags_and_fee_schedule(sim, sim_settings):
    ticker = sim.call(lambda: next(iter(sim.exchange.markets)))
    series_ticker = sim.call(lambda: sim.exchange.markets[ticker].series_ticker)

    def tag() -> None:
        series = sim.exchange.series[series_ticker]
        series.tags = ["Sim tag"]
        series.fee_type = "quadratic_with_maker_fees"

    sim.call(tag)
    sync_markets()
    row = Series.objects.get(ticker=series_ticker)
    assert row.tags == ["Sim tag"] and row.fee_type == "quadratic_with_maker_fees"


def test_a_sports_market_shows_its_live_score_and_period(client, alice, sim, sim_settings):
    ticker = sim.call(lambda: next(iter(sim.exchange.markets)))
    event_ticker = sim.call(lambda: sim.exchange.markets[ticker].event_ticker)
    now = sim.exchange.now
    sim.app.discovery.add_milestone(
        Milestone(
            "ms-page",
            "Sports",
            "basketball_game",
            "A v B",
            now - timedelta(hours=1),
            now,
            primary_event_tickers=[event_ticker],
        )
    )
    sim.app.discovery.set_live_data(
        LiveData(
            "ms-page", "basketball_game", {"away_points": 50, "home_points": 54, "period": 2, "clock": "4:12"}
        )
    )
    live.client().delete(f"kw:livedata:{event_ticker}")
    make_market(ticker)
    body = client.get(f"/markets/{ticker}/live-game/").content.decode()
    assert "50–54" in body and "Period 2" in body and "4:12" in body
    # the exchange is asked at most once per few seconds per event, however many pages poll
    sim.app.discovery.set_live_data(
        LiveData("ms-page", "basketball_game", {"away_points": 52, "home_points": 54})
    )
    assert "50–54" in client.get(f"/markets/{ticker}/live-game/").content.decode()
    live.client().delete(f"kw:livedata:{event_ticker}")
    assert "52–54" in client.get(f"/markets/{ticker}/live-game/").content.decode()


def test_a_market_without_live_data_shows_nothing(client, alice, sim, sim_settings):
    market = make_market("KXFED-26DEC-T9.99")
    live.client().delete(f"kw:livedata:{market.event_id}")
    body = client.get(f"/markets/{market.ticker}/live-game/").content.decode()
    assert "Live" not in body and 'class="live-game"' in body


def test_markets_with_an_active_incentive_program_are_marked(client, alice, sim, sim_settings):
    from kalshiweb.exchange import run_blocking
    from kalshiweb.simulator.discovery import IncentiveProgram
    from markets import discovery

    ticker = sim.call(lambda: next(iter(sim.exchange.markets)))
    now = sim.exchange.now
    sim.app.discovery.add_incentive_program(
        IncentiveProgram(
            "ip-page",
            ticker,
            "liquidity",
            "Liquidity",
            now - timedelta(hours=1),
            now + timedelta(days=1),
            1000,
        )
    )
    sim.app.discovery.add_incentive_program(  # ended: not marked
        IncentiveProgram(
            "ip-old",
            "KXFED-26DEC-T4.25",
            "volume",
            "Volume",
            now - timedelta(days=9),
            now - timedelta(days=1),
            1000,
        )
    )
    discovery.store_incentives(run_blocking(discovery.fetch_incentives))
    assert discovery.incentive_tickers() == {ticker}
    make_market(ticker)
    fed = make_market("KXFED-26DEC-T4.25")
    body = client.get("/markets/", {"status": "all"}).content.decode()
    row = body.split('id="mrow-')[1:]
    marked = [chunk for chunk in row if "badge incentive" in chunk.split("</div>")[0]]
    assert len(marked) == 1 and ticker in marked[0] and fed.ticker not in marked[0]
    # and on the market's own page, not on the other's
    assert 'class="badge incentive"' in client.get(f"/markets/{ticker}/").content.decode()
    assert 'class="badge incentive"' not in client.get(f"/markets/{fed.ticker}/").content.decode()
    discovery.store_incentives(set())
    assert "badge incentive" not in client.get("/markets/", {"status": "all"}).content.decode()
    assert 'class="badge incentive"' not in client.get(f"/markets/{ticker}/").content.decode()
