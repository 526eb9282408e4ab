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


def test_the_bulk_upsert_stores_exactly_what_the_model_would(sim_settings, sim):
    """The upsert adapts values itself (no per-field Django machinery): every stored column must equal what a
    Market built by market_row() and saved through the ORM holds, on the first sync and on a re-sync."""
    from django.db import transaction
    from django.utils import timezone

    from kalshiweb.exchange import make_client, run_blocking
    from markets.sync import fetch_all, market_row, store

    async def fetch():
        async with make_client() as client:
            return await fetch_all(client)

    series, events, markets = run_blocking(fetch)
    store(series, events, markets)
    Market.objects.filter(ticker=markets[0].ticker).update(title="stale", yes_bid=Decimal("0.0100"))
    store(series, events, markets)
    stored = Market.objects.in_bulk()
    assert len(stored) == len(markets)
    names = [f.attname for f in Market._meta.concrete_fields if f.attname != "synced_at"]
    now = timezone.now()
    event_series = dict(Event.objects.values_list("event_ticker", "series_id"))
    expected_rows = [market_row(m, event_series.get(m.event_ticker), now) for m in markets]
    with transaction.atomic():
        # The ORM's own round trip, as the reference for every column's stored form.
        Market.objects.all().delete()
        Market.objects.bulk_create(expected_rows)
        reference = Market.objects.in_bulk()
        transaction.set_rollback(True)
    differing = [
        (t, n, getattr(stored[t], n), getattr(reference[t], n))
        for t in reference
        for n in names
        if getattr(stored[t], n) != getattr(reference[t], n)
    ]
    assert differing == []
    assert all(m.synced_at is not None and m.synced_at.tzinfo is not None for m in stored.values())


def test_the_bulk_upsert_refuses_a_non_finite_price(sim_settings, sim):
    import msgspec

    from kalshiweb.exchange import make_client, run_blocking
    from markets.sync import fetch_all, upsert_markets

    async def fetch():
        async with make_client() as client:
            return await fetch_all(client)

    _, _, markets = run_blocking(fetch)
    bad = msgspec.structs.replace(markets[0], volume=Decimal("NaN"))
    with pytest.raises(ValueError, match="finite"):
        upsert_markets([bad])
    assert not Market.objects.filter(ticker=bad.ticker).exists()


def test_a_market_gone_from_the_exchange_is_closed_by_the_next_sync(sim_settings, sim):
    """Still 'active' here, unknown there (past its close, delisted): watching it must not be offered (#12.2)."""
    from tests.factories import make_market

    sync_markets()
    make_market("KXGONE-26DEC01-T1", status="active")
    result = sync_markets()
    assert Market.objects.get(ticker="KXGONE-26DEC01-T1").status == "closed"
    assert result.closed == 1
    assert Market.objects.filter(status="active").count() == sim.call(
        lambda: sum(1 for m in sim.exchange.markets.values() if m.status == "active")
    )
