from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portfolio.models import EquityPoint, PortfolioSnapshot, Settlement


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by refreshes from Kalshi: visible to staff, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["account", "balance", "portfolio_value", "as_of", "last_error"]
    readonly_fields = [
        "account",
        "balance",
        "portfolio_value",
        "positions",
        "as_of",
        "last_error",
        "last_error_at",
    ]


@admin.register(EquityPoint)
class EquityPointAdmin(ReadOnlyAdmin):
    list_display = ["account", "at", "balance", "portfolio_value"]
    list_filter = ["account"]
    date_hierarchy = "at"


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "ticker",
        "market_result",
        "yes_count",
        "no_count",
        "revenue",
        "fee_cost",
        "settled_time",
    ]
    list_filter = ["account", "market_result"]
    search_fields = ["ticker", "event_ticker"]
    date_hierarchy = "settled_time"
