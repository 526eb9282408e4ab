"""Alerts a trader sets (issue #16): a market's price crossing a level, its spread narrowing, its close coming
within N minutes, one of the trader's orders filling. Each fires once: `fired_at` is set by a conditional update
(`filter(pk=…, fired_at=None).update(…)`), so two feed processes or a restart never fire it twice.
Imported at the end of `trading.models`; it imports no sibling module.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from markets.templatetags.kalshi_format import cents


class Alert(models.Model):
    class Kind(models.TextChoices):
        PRICE_ABOVE = "price_above", "last price at or above"
        PRICE_BELOW = "price_below", "last price at or below"
        SPREAD_BELOW = "spread_below", "spread at or below"
        CLOSING_WITHIN = "closing_within", "closes within (minutes)"
        ORDER_FILLED = "order_filled", "an order of mine fills"

    # What `threshold` means for each kind, and the kinds a market must be named for.
    PRICE_KINDS = (Kind.PRICE_ABOVE, Kind.PRICE_BELOW, Kind.SPREAD_BELOW)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts")
    ticker = models.CharField(max_length=120, blank=True, help_text="Blank: any market (order fills only).")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Dollars for the price kinds (0.60 = 60¢), minutes for CLOSING_WITHIN, unused for ORDER_FILLED.
    threshold = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    email = models.BooleanField(default=False, help_text="Also send an e-mail when it fires.")
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True, db_index=True)
    fired_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["kind", "fired_at"], name="alert_kind_fired")]

    def __str__(self) -> str:
        return f"alert {self.pk}: {self.describe()}"

    @property
    def active(self) -> bool:
        return self.fired_at is None

    def describe(self) -> str:
        where = self.ticker or "any market"
        if self.kind == self.Kind.ORDER_FILLED:
            return f"an order of mine fills in {where}"
        if self.kind == self.Kind.CLOSING_WITHIN:
            return f"{where} closes within {self.threshold or 0:.0f} min"
        return f"{where}: {self.get_kind_display()} {cents(self.threshold or Decimal(0))}"
