from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from kalshiweb.exchange import make_client, run_blocking
from markets import live
from markets.models import Event, Market, Series, Watch, WatchList
from markets.sync import upsert_markets

EXCHANGE_MARKET_FIELDS = [
    "ticker", "event", "series", "title", "yes_sub_title", "no_sub_title", "market_type", "status", "result",
    "open_time", "close_time", "expected_expiration_time", "rules_primary", "rules_secondary",
    "price_level_structure", "price_ranges", "yes_bid", "yes_ask", "no_bid", "no_ask", "yes_bid_size",
    "yes_ask_size", "last_price", "previous_price", "spread", "volume", "volume_24h", "open_interest",
    "quote_updated_at", "synced_at",
]  # fmt: skip


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        categories = Series.objects.exclude(category="").values_list("category", flat=True).distinct()
        return [(c, c) for c in sorted(categories)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Market]) -> QuerySet[Market]:
        if self.value():
            return queryset.filter(series__category=self.value())
        return queryset


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ["ticker", "title", "category", "frequency"]
    search_fields = ["ticker", "title"]
    list_filter = ["category"]
    readonly_fields = ["ticker", "title", "category", "frequency", "updated_at"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_ticker", "title", "category", "mutually_exclusive"]
    search_fields = ["event_ticker", "title"]
    list_filter = ["category", "mutually_exclusive"]
    readonly_fields = [
        "event_ticker",
        "series",
        "title",
        "sub_title",
        "category",
        "mutually_exclusive",
        "strike_date",
    ]


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ["ticker", "title", "status", "yes_bid", "yes_ask", "last_price", "volume", "close_time"]
    search_fields = ["ticker", "title"]
    list_filter = ["status", "series", CategoryFilter, "close_time"]
    readonly_fields = EXCHANGE_MARKET_FIELDS
    actions = ["resync_now"]
    date_hierarchy = "close_time"

    @admin.action(description="Re-sync selected markets from the exchange now")
    def resync_now(self, request: HttpRequest, queryset: QuerySet[Market]) -> None:
        tickers = list(queryset.values_list("ticker", flat=True))

        async def fetch() -> list[Any]:
            async with make_client() as client:
                found = []
                for start in range(0, len(tickers), 100):
                    found.extend([m async for m in client.iter_markets(tickers=tickers[start : start + 100])])
                return found

        read_at = timezone.now()
        try:
            count = upsert_markets(run_blocking(fetch), read_at=read_at)
        except Exception as exc:
            self.message_user(request, f"Re-sync failed: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Re-synced {count} of {len(tickers)} market(s).", messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        extra = [
            path("feed-health/", self.admin_site.admin_view(self.feed_health), name="markets_feed_health")
        ]
        return extra + super().get_urls()

    def feed_health(self, request: HttpRequest) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Feed health",
            "health": live.feed_health(),
        }
        return TemplateResponse(request, "admin/markets/feed_health.html", context)


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = ["user", "watchlist", "market", "created_at"]
    raw_id_fields = ["market", "watchlist"]


@admin.register(WatchList)
class WatchListAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "created_at", "selected_at"]
    search_fields = ["name", "user__username"]
