from __future__ import annotations

from django.contrib import admin

from markets.models import Event, Market, Series, Watch


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ["ticker", "title", "category", "frequency"]
    search_fields = ["ticker", "title"]
    list_filter = ["category"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_ticker", "title", "category", "mutually_exclusive"]
    search_fields = ["event_ticker", "title"]
    list_filter = ["category", "mutually_exclusive"]


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ["ticker", "title", "status", "yes_bid", "yes_ask", "last_price", "volume", "close_time"]
    search_fields = ["ticker", "title"]
    list_filter = ["status", "series"]
    readonly_fields = ["quote_updated_at", "synced_at"]


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = ["user", "market", "created_at"]
    raw_id_fields = ["market"]
