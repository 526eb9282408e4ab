"""Migration 0005 (named watchlists) puts every existing star into its trader's first list, "Watchlist"."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("markets", "0004_series_tags")]
AFTER = [("markets", "0007_watchlists_required")]


def test_existing_stars_land_in_each_traders_first_list():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    Market, Watch = old.get_model("markets", "Market"), old.get_model("markets", "Watch")
    alice, bob = User.objects.create(username="alice"), User.objects.create(username="bob")
    for ticker in ("KXA-1", "KXB-2"):
        Market.objects.create(ticker=ticker, status="active")
    Watch.objects.create(user=alice, market_id="KXA-1")
    Watch.objects.create(user=alice, market_id="KXB-2")
    Watch.objects.create(user=bob, market_id="KXA-1")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        WatchList, Watch = new.get_model("markets", "WatchList"), new.get_model("markets", "Watch")
        assert sorted(WatchList.objects.values_list("user__username", "name")) == [
            ("alice", "Watchlist"),
            ("bob", "Watchlist"),
        ]
        mine = WatchList.objects.get(user__username="alice")
        assert sorted(mine.watches.values_list("market_id", flat=True)) == ["KXA-1", "KXB-2"]
        assert Watch.objects.filter(watchlist__isnull=True).count() == 0
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
