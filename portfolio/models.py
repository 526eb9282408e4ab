"""What we last heard from Kalshi about each account: a snapshot (balance, positions, value, as_of), the
equity history drawn from those snapshots, and the account's settlements."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import models

from kalshiweb.dbfields import COUNT, MONEY
from trading.models import KalshiAccount


class PortfolioSnapshot(models.Model):
    """One row per account, replaced by each refresh. `positions` holds Kalshi's own figures per market:
    {ticker: {"position", "market_exposure", "realized_pnl", "fees_paid", "total_traded"}} (decimal strings)."""

    account = models.OneToOneField(KalshiAccount, on_delete=models.CASCADE, related_name="portfolio_snapshot")
    balance = models.DecimalField(**MONEY, help_text="Available cash, dollars.")
    portfolio_value = models.DecimalField(
        **MONEY, help_text="Kalshi's mark-to-market value of the positions, dollars."
    )
    positions = models.JSONField(default=dict, blank=True)
    as_of = models.DateTimeField(help_text="When Kalshi answered.")
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.account} as of {self.as_of:%Y-%m-%d %H:%M:%S}"

    def age(self, now: datetime) -> timedelta:
        return now - self.as_of

    def is_stale(self, now: datetime, threshold: float) -> bool:
        return self.age(now).total_seconds() > threshold

    def kalshi_position(self, ticker: str) -> dict[str, Decimal] | None:
        row = self.positions.get(ticker)
        if row is None:
            return None
        return {k: Decimal(v) for k, v in row.items()}

    @property
    def total(self) -> Decimal:
        return self.balance + self.portfolio_value


class EquityPointQuerySet(models.QuerySet["EquityPoint"]):
    def for_account(self, account: Any) -> EquityPointQuerySet:
        return self.filter(account=account)


class EquityPoint(models.Model):
    """Cash + portfolio value at one refresh (at most one point per account per EQUITY_EVERY seconds)."""

    account = models.ForeignKey(KalshiAccount, on_delete=models.CASCADE, related_name="equity_points")
    at = models.DateTimeField(db_index=True)
    balance = models.DecimalField(**MONEY)
    portfolio_value = models.DecimalField(**MONEY)

    objects = EquityPointQuerySet.as_manager()

    class Meta:
        ordering = ["at"]
        constraints = [models.UniqueConstraint(fields=["account", "at"], name="unique_equity_point")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.at:%Y-%m-%d %H:%M} {self.total}"

    @property
    def total(self) -> Decimal:
        return self.balance + self.portfolio_value


class Settlement(models.Model):
    """A market's settlement for one account, as GET /portfolio/settlements reports it."""

    account = models.ForeignKey(KalshiAccount, on_delete=models.CASCADE, related_name="settlements")
    ticker = models.CharField(max_length=120, db_index=True)
    event_ticker = models.CharField(max_length=100, blank=True)
    market_result = models.CharField(max_length=10)
    yes_count = models.DecimalField(**COUNT)
    yes_total_cost = models.DecimalField(**MONEY)
    no_count = models.DecimalField(**COUNT)
    no_total_cost = models.DecimalField(**MONEY)
    revenue = models.DecimalField(**MONEY, help_text="Payout, dollars.")
    fee_cost = models.DecimalField(**MONEY, default=Decimal("0"))
    value_cents = models.IntegerField(null=True, blank=True)
    settled_time = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-settled_time", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["account", "ticker"], name="unique_settlement_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.ticker} settled {self.market_result}"

    @property
    def cost(self) -> Decimal:
        return self.yes_total_cost + self.no_total_cost

    @property
    def profit(self) -> Decimal:
        """Payout less the cost basis settled (fees not included)."""
        return self.revenue - self.cost


class CashTransfer(models.Model):
    """A deposit or withdrawal of the Kalshi account, as GET /portfolio/deposits and /withdrawals report it
    (issue #15). Account-wide: shown to staff and to an account's only trader."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"

    account = models.ForeignKey(KalshiAccount, on_delete=models.CASCADE, related_name="cash_transfers")
    transfer_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    method = models.CharField(max_length=10, help_text="ach, wire, crypto, debit or apm")
    status = models.CharField(max_length=10, help_text="pending, applied, failed or returned")
    amount = models.DecimalField(**MONEY, help_text="Dollars.")
    fee = models.DecimalField(**MONEY, default=Decimal("0"))
    created = models.DateTimeField(db_index=True)
    finalized = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "transfer_id"], name="unique_cash_transfer")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.status}"

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.kind == self.Kind.DEPOSIT else -self.amount
