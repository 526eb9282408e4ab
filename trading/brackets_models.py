"""Brackets (an entry with a take-profit and a stop, one cancels the other) and the trader's sizing setting.

Kalshi holds neither: kalshiweb emulates them. A bracket's state changes are conditional updates on its status
(`filter(pk=…, status=…).update(…)`), so two feed processes, a redelivery or a restart act on it once.
Imported at the end of `trading.models` (the models of the app are found there); it imports no sibling module.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from kalshiweb.dbfields import COUNT, PRICE


class Bracket(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "waiting for the entry to fill"
        ACTIVE = "active", "armed"
        TRIGGERED = "triggered", "stop triggered"
        DONE = "done", "closed"
        CANCELED = "canceled", "canceled"
        FAILED = "failed", "failed"

    class Trigger(models.TextChoices):
        QUOTE = "quote", "best bid (sell) / ask (buy)"
        LAST = "last", "last trade"

    OPEN_STATUSES = (Status.PENDING, Status.ACTIVE, Status.TRIGGERED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="brackets")
    account = models.ForeignKey("trading.KalshiAccount", on_delete=models.PROTECT, related_name="brackets")
    ticker = models.CharField(max_length=120, db_index=True)
    entry = models.OneToOneField(
        "trading.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="bracket"
    )
    # The entry's leg: the exits trade the same outcome the other way.
    outcome = models.CharField(max_length=3, choices=[("yes", "YES"), ("no", "NO")])
    entry_action = models.CharField(max_length=4, choices=[("buy", "Buy"), ("sell", "Sell")])
    # Prices in the entry's leg. Take-profit: a resting limit; stop: triggers when the reference price reaches it;
    # stop_limit: the worst price its reduce-only IOC order accepts.
    take_profit_price = models.DecimalField(**PRICE, null=True, blank=True)
    stop_price = models.DecimalField(**PRICE, null=True, blank=True)
    stop_limit_price = models.DecimalField(**PRICE)
    trigger = models.CharField(max_length=5, choices=Trigger.choices, default=Trigger.QUOTE)
    # Contracts the exits close: the entry's filled count once the entry is done.
    count = models.DecimalField(**COUNT, default=Decimal("0"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    take_profit_order = models.OneToOneField(
        "trading.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stop_order = models.OneToOneField(
        "trading.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Fixed when the bracket is made: the exits' client_order_ids, so placing an exit twice finds the first one.
    take_profit_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    stop_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    trigger_seen = models.DecimalField(**PRICE, null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"bracket {self.pk} {self.ticker} [{self.status}]"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def exit_action(self) -> str:
        return "sell" if self.entry_action == "buy" else "buy"

    def move(self, from_statuses: tuple[str, ...], **changes: Any) -> bool:
        """The one way a bracket changes state: a conditional update on its status. False: another process (or an
        earlier delivery) moved it first, and nothing changed."""
        changes["updated_at"] = timezone.now()
        n = Bracket.objects.filter(pk=self.pk, status__in=from_statuses).update(**changes)
        if n:
            for key, value in changes.items():
                setattr(self, key, value)
        return n == 1


class SizingSetting(models.Model):
    """A trader's sizing setting: the fraction of the Kelly stake the sizing panel suggests."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sizing")
    kelly_multiplier = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.50"))

    def __str__(self) -> str:
        return f"{self.user}: {self.kelly_multiplier}× Kelly"
