"""Series, events and markets as synced from Kalshi, plus each trader's watchlist."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from kalshiweb.dbfields import COUNT, PRICE

_DOMID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def dom_id(text: object) -> str:
    """A ticker made safe for an element id and a CSS selector (dots and odd characters → _)."""
    return _DOMID_UNSAFE.sub("_", str(text))


class Series(models.Model):
    ticker = models.CharField(max_length=64, primary_key=True)
    title = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    frequency = models.CharField(max_length=50, blank=True)
    # Kalshi's fee schedule of the series (issue #15 item 4): quadratic, quadratic_with_maker_fees, flat…
    fee_type = models.CharField(max_length=40, default="quadratic")
    fee_multiplier = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("1"))
    tags = models.JSONField(default=list, blank=True)  # Kalshi's series tags (the list filters by them)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "series"
        ordering = ["ticker"]

    def __str__(self) -> str:
        return self.ticker


class Event(models.Model):
    event_ticker = models.CharField(max_length=100, primary_key=True)
    series = models.ForeignKey(
        Series, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    title = models.CharField(max_length=300, blank=True)
    sub_title = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    mutually_exclusive = models.BooleanField(default=False)
    strike_date = models.DateTimeField(null=True, blank=True)
    # An event-level fee override (event_fee_update); blank / null: the series' schedule applies.
    fee_type_override = models.CharField(max_length=40, blank=True)
    fee_multiplier_override = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event_ticker"]

    def __str__(self) -> str:
        return self.event_ticker


class MarketQuerySet(models.QuerySet["Market"]):
    def open(self) -> MarketQuerySet:
        return self.filter(status__in=Market.OPEN_STATUSES)

    def closing_within(self, delta: timedelta) -> MarketQuerySet:
        now = timezone.now()
        return self.filter(close_time__gt=now, close_time__lte=now + delta)

    def search(self, text: str) -> MarketQuerySet:
        text = text.strip()
        if not text:
            return self
        return self.filter(models.Q(ticker__icontains=text) | models.Q(title__icontains=text))


class Market(models.Model):
    OPEN_STATUSES = ("active",)
    # Kalshi's REST status filter vocabulary → the market statuses it covers (protocol §6.2).
    STATUS_FILTERS = {
        "open": ("active",),
        "paused": ("inactive",),
        "unopened": ("initialized",),
        "closed": ("closed", "determined", "disputed", "amended"),
        "settled": ("finalized",),
    }

    ticker = models.CharField(max_length=120, primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="markets")
    series = models.ForeignKey(
        Series, on_delete=models.SET_NULL, null=True, blank=True, related_name="markets"
    )
    title = models.CharField(max_length=400, blank=True)
    yes_sub_title = models.CharField(max_length=300, blank=True)
    no_sub_title = models.CharField(max_length=300, blank=True)
    market_type = models.CharField(max_length=20, default="binary")
    status = models.CharField(max_length=20)
    result = models.CharField(max_length=10, blank=True)
    open_time = models.DateTimeField(null=True, blank=True)
    close_time = models.DateTimeField(null=True, blank=True, db_index=True)
    expected_expiration_time = models.DateTimeField(null=True, blank=True)
    rules_primary = models.TextField(blank=True)
    rules_secondary = models.TextField(blank=True)
    price_level_structure = models.CharField(max_length=60, blank=True)
    # [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}] — dollar strings as Kalshi sends them.
    price_ranges = models.JSONField(default=list, blank=True)

    yes_bid = models.DecimalField(**PRICE, null=True, blank=True)
    yes_ask = models.DecimalField(**PRICE, null=True, blank=True)
    no_bid = models.DecimalField(**PRICE, null=True, blank=True)
    no_ask = models.DecimalField(**PRICE, null=True, blank=True)
    yes_bid_size = models.DecimalField(**COUNT, default=Decimal("0"))
    yes_ask_size = models.DecimalField(**COUNT, default=Decimal("0"))
    last_price = models.DecimalField(**PRICE, null=True, blank=True)
    previous_price = models.DecimalField(**PRICE, null=True, blank=True)
    spread = models.DecimalField(**PRICE, null=True, blank=True)
    volume = models.DecimalField(**COUNT, default=Decimal("0"))
    volume_24h = models.DecimalField(**COUNT, default=Decimal("0"))
    open_interest = models.DecimalField(**COUNT, default=Decimal("0"))
    quote_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # When the exchange's lifecycle stream last changed the status, result or close time: a sync that read the
    # exchange before then leaves the row alone (markets.sync), or its older list would undo the change.
    lifecycle_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MarketQuerySet.as_manager()

    class Meta:
        ordering = ["ticker"]
        # The market list filters by status and sorts by one of these columns with the ticker as tie-break:
        # each sort has an index in exactly that order, so a page is read from the index (no sort of the
        # table), and the list's ticker-only page query is covered by it. The status-less pair serves
        # status=all. PostgreSQL also gets trigram indexes for the search (migration 0002).
        indexes = [
            models.Index(fields=["status", "-volume", "ticker"], name="market_status_volume"),
            models.Index(fields=["status", "-volume_24h", "ticker"], name="market_status_volume_24h"),
            models.Index(fields=["status", "close_time", "ticker"], name="market_status_close"),
            models.Index(fields=["status", "spread", "ticker"], name="market_status_spread"),
            models.Index(fields=["-volume", "ticker"], name="market_volume"),
            models.Index(fields=["-volume_24h", "ticker"], name="market_volume_24h"),
        ]

    def __str__(self) -> str:
        return self.ticker

    # Display values of a row, computed once per instance. The market list assigns them in bulk (see
    # markets.services.prepare_rows); anything else (the feed's renderer, a single row) computes them here.
    @cached_property
    def dom_id(self) -> str:
        """The ticker made safe for an element id and a CSS selector (as the `domid` filter makes it)."""
        return dom_id(self.ticker)

    @cached_property
    def detail_url(self) -> str:
        return reverse("markets:detail", args=[self.ticker])

    @cached_property
    def row_url(self) -> str:
        return reverse("markets:row", args=[self.ticker])

    @cached_property
    def watch_url(self) -> str:
        return reverse("markets:toggle_watch", args=[self.ticker])

    @property
    def display_title(self) -> str:
        return self.title or self.yes_sub_title or self.ticker

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def change_24h(self) -> Decimal | None:
        if self.last_price is None or self.previous_price is None:
            return None
        return self.last_price - self.previous_price

    @property
    def category(self) -> str:
        if self.event is not None and self.event.category:
            return self.event.category
        return self.series.category if self.series is not None else ""


class WatchList(models.Model):
    """One of a trader's named watchlists. The star on a market adds it to (or takes it off) the list the trader
    looked at last (`selected_at`), created as "Watchlist" the first time."""

    DEFAULT_NAME = "Watchlist"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    selected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="unique_watchlist_name_per_user")
        ]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"


class Watch(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches")
    watchlist = models.ForeignKey(WatchList, on_delete=models.CASCADE, related_name="watches")
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="watches")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["watchlist", "market"], name="unique_watch_per_list")]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} ★ {self.market_id}"
