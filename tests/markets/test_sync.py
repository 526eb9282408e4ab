"""Syncing markets from the simulator over real loopback HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from markets.models import Event, Market, Series
from markets.sync import sync_markets

pytestmark = pytest.mark.django_db


def test_it_syncs_every_series_event_and_market_from_the_simulator(sim_settings, sim):
    result = sync_markets()
    expected = sim.call(lambda: len(sim.exchange.markets))
    assert result.markets == expected == Market.objects.count()
    assert Series.objects.count() >= 4
    assert Event.objects.count() >= 12
    open_market = Market.objects.filter(status="active").exclude(yes_bid=None).first()
    assert open_market is not None
    assert isinstance(open_market.yes_bid, Decimal)
    assert open_market.event.series_id == open_market.series_id
    assert open_market.price_ranges and "step" in open_market.price_ranges[0]


def test_a_second_sync_updates_rows_in_place(sim_settings, sim):
    sync_markets()
    Market.objects.update(title="stale title")
    result = sync_markets()
    assert Market.objects.count() == result.markets
    assert not Market.objects.filter(title="stale title").exists()


def test_the_command_reports_an_unreachable_exchange(settings):
    settings.KALSHI_API_BASE = "http://127.0.0.1:9/trade-api/v2"
    with pytest.raises(CommandError, match="exchange"):
        call_command("sync_markets")
