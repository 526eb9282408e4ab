"""Stale-while-revalidate: the stored snapshot renders at once; a stale one is marked with its age and
triggers one refresh (single-flight per account), with the clock frozen by injecting `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from portfolio import receivers, services, tasks
from portfolio.models import EquityPoint, PortfolioSnapshot
from tests.helpers import open_page
from tests.portfolio.helpers import make_fill, make_trader

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 24, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch):
    clock = {"now": T0}
    monkeypatch.setattr(services, "now", lambda: clock["now"])
    return clock


@pytest.fixture
def alice(client):
    user, account = make_trader("alice")
    client.force_login(user)
    PortfolioSnapshot.objects.create(
        account=account, balance=D("100.00"), portfolio_value=D("4.00"), as_of=T0, positions={}
    )
    return account


def test_a_fresh_snapshot_renders_at_once_without_a_refresh(client, alice, frozen):
    frozen["now"] = T0 + timedelta(seconds=20)
    response = client.get("/portfolio/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "$100.00" in html
    assert "20 s old" in html and "stale" not in html.split('id="pf-snapshot"')[0][-80:]
    assert not services.refresh_in_flight(alice.pk)
    assert 'hx-trigger="kw:poll30 from:body, kw:livetick from:body' in html  # live.js's timers


def test_a_stale_snapshot_is_marked_with_its_age_and_queues_one_refresh(client, alice, frozen):
    frozen["now"] = T0 + timedelta(seconds=services.STALE_AFTER + 15)
    response = client.get("/portfolio/live/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert f"stale, {services.STALE_AFTER + 15} s old" in html
    assert "refreshing…" in html
    assert 'hx-trigger="every 3s"' in html  # polls its own partial until the snapshot is fresh
    assert services.refresh_in_flight(alice.pk)


def test_two_tabs_cause_one_refresh_within_the_window(alice):
    assert tasks.request_refresh(alice.pk) is True
    assert tasks.request_refresh(alice.pk) is False
    assert tasks.request_refresh(alice.pk) is False


def test_a_refreshed_snapshot_is_fresh_again(client, alice, frozen):
    frozen["now"] = T0 + timedelta(minutes=10)
    PortfolioSnapshot.objects.filter(account=alice).update(
        as_of=T0 + timedelta(minutes=10) - timedelta(seconds=2)
    )
    html = client.get("/portfolio/live/", headers={"HX-Request": "true"}).content.decode()
    assert "2 s old" in html and "refreshing" not in html
    assert not services.refresh_in_flight(alice.pk)


def test_a_page_without_snapshot_says_so_and_still_shows_positions_from_fills(client, frozen):
    user, account = make_trader("bob")
    client.force_login(user)
    make_fill(account, "KX-A", "bid", "0.40", "10", "0.17")
    html = client.get("/portfolio/").content.decode()
    assert "no snapshot from Kalshi yet" in html
    assert 'id="pf-row-KX-A"' in html
    assert "$4.00" in html  # exposure


def test_a_viewer_without_an_account_sees_why(client):
    from tests.factories import make_user

    client.force_login(make_user("charlie"))
    assert "view-only" in client.get("/portfolio/").content.decode()


def test_equity_points_are_throttled(alice, frozen):
    class FakeClient:
        def get_balance(self):
            from kalshiweb.kalshi.models import Balance

            return Balance(balance_cents=10000, balance=D("100.00"), portfolio_value_cents=400, updated=T0)

        def get_positions(self, **kw):
            from kalshiweb.kalshi.models import Positions

            return Positions(market_positions=(), event_positions=(), cursor=None)

        def iter_settlements(self, **kw):
            return iter(())

        def iter_fills(self, **kw):
            return iter(())

        def get_historical_cutoff(self):
            from kalshiweb.kalshi.types.history import HistoricalCutoff

            return HistoricalCutoff(market_settled=T0, trades_created=T0, orders_updated=T0)

        def iter_historical_fills(self, **kw):
            return iter(())

        def get_deposits(self, **kw):
            from kalshiweb.kalshi.models import Page

            return Page(items=(), cursor=None)

        get_withdrawals = get_deposits

    for seconds in (0, 10, 30, services.EQUITY_EVERY.total_seconds() + 1):
        services.refresh(alice, FakeClient(), at=T0 + timedelta(seconds=seconds))
    assert EquityPoint.objects.filter(account=alice).count() == 2
    assert PortfolioSnapshot.objects.get(account=alice).as_of == T0 + services.EQUITY_EVERY + timedelta(
        seconds=1
    )


def test_a_fill_newer_than_the_snapshot_makes_it_stale(client, alice, frozen):
    frozen["now"] = T0 + timedelta(seconds=5)
    make_fill(alice, "KX-A", "bid", "0.40", "10", at=T0 + timedelta(seconds=3))
    html = client.get("/portfolio/live/", headers={"HX-Request": "true"}).content.decode()
    assert "1 newer fill not in the balance yet" in html and "refreshing…" in html


def test_on_fill_pushes_the_figures_to_every_trader_of_the_account(alice, django_capture_on_commit_callbacks):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from trading.models import TraderProfile

    layer = get_channel_layer()
    user_id = TraderProfile.objects.get(account=alice).user_id
    channel = open_page(user_id)
    make_fill(alice, "KX-A", "bid", "0.40", "10")
    with django_capture_on_commit_callbacks(execute=True):
        receivers.on_fill(alice.pk)
    message = async_to_sync(layer.receive)(channel)
    assert services.refresh_in_flight(alice.pk)  # and the balance is being refreshed
    assert 'id="portfolio-live" class="pf-live" hx-swap-oob="true"' in message["html"]
    assert 'id="pf-row-KX-A"' in message["html"]


def test_the_equity_chart_draws_the_stored_points(client, alice):
    for minutes, total in ((0, "104.00"), (5, "110.50"), (10, "98.25")):
        EquityPoint.objects.create(
            account=alice, at=T0 + timedelta(minutes=minutes), balance=D(total), portfolio_value=D("0")
        )
    html = client.get("/portfolio/").content.decode()
    svg = html.split('<svg class="chart equity-chart"')[1].split("</svg>")[0]
    assert svg.count(" L") == 2 and "$110.50" in svg and "$98.25" in svg
    # and the same points for the chart script (whole seconds, totals as decimal text)
    assert '<script id="equity-data" type="application/json">' in html
    assert f'{{"time": {int(T0.timestamp()) + 300}, "value": "110.5"}}' in html


def test_the_equity_chart_ends_with_kalshis_latest_figures_so_it_starts_at_the_second_refresh(client, alice):
    EquityPoint.objects.create(account=alice, at=T0, balance=D("100.00"), portfolio_value=D("0"))
    html = client.get("/portfolio/").content.decode()
    assert "Equity $100.00 now; the chart draws from the next refresh" in html
    # a refresh inside the EQUITY_EVERY window stores no point, but the chart draws to its figures
    PortfolioSnapshot.objects.update_or_create(
        account=alice,
        defaults={"balance": D("96.50"), "portfolio_value": D("5.25"), "as_of": T0 + timedelta(minutes=1)},
    )
    html = client.get("/portfolio/").content.decode()
    svg = html.split('<svg class="chart equity-chart"')[1].split("</svg>")[0]
    assert svg.count(" L") == 1 and "$100.00" in svg and "$101.75" in svg
    assert EquityPoint.objects.filter(account=alice).count() == 1


def test_the_beat_refreshes_every_traded_account_once(alice):
    from portfolio.tasks import refresh_portfolios

    assert refresh_portfolios() == 1
    assert refresh_portfolios() == 0  # single-flight: already queued within the window


def test_an_account_without_a_key_is_not_polled_for_refreshes(client, frozen):
    from trading.models import KalshiAccount

    user, account = make_trader("dave")
    KalshiAccount.objects.filter(pk=account.pk).update(private_key_path="")
    client.force_login(user)
    html = client.get("/portfolio/live/", headers={"HX-Request": "true"}).content.decode()
    assert "no API key" in html and 'hx-trigger="every 3s"' not in html
    assert not services.refresh_in_flight(account.pk)
