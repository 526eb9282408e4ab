"""Kalshi accounts, traders, orders, fills and the order audit trail.

State changes are conditional updates (`filter(pk=…, status=…).update(…)`): a second worker, a
redelivered task or a late exchange message that finds the row in another state changes nothing.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from kalshiweb.dbfields import COUNT, MONEY, PRICE
from kalshiweb.kalshi.auth import KalshiSigner
from kalshiweb.kalshi.rest import DEMO, PRODUCTION
from trading import crypto


class KalshiAccount(models.Model):
    class Environment(models.TextChoices):
        SIMULATOR = "simulator", "Simulator"
        DEMO = "demo", "Demo"
        PRODUCTION = "production", "Production"

    name = models.CharField(max_length=100, unique=True)
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.SIMULATOR)
    api_key_id = models.CharField(max_length=100)
    # Fernet token of the PEM; write-only in forms and admin, never rendered, logged or serialized.
    private_key_encrypted = models.TextField(blank=True, editable=False)
    private_key_path = models.CharField(
        max_length=500, blank=True, help_text="Alternative to a stored key: a PEM file on the server."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    fills_synced_through = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Every fill before this time has been read over REST, both sides of Kalshi's historical "
        "cutoff (trading.fills.sync_fills); empty: never, the next sync reads the whole history.",
    )
    # Issue #15, subaccounts: a row with a parent is one numbered subaccount of the parent's Kalshi account; it
    # trades with the parent's key (copied when created) and every call it makes names its subaccount
    # (`trading.clients.client_for`), so its balance, positions, fills and P&L are its own.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="subaccounts", editable=False
    )
    subaccount = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="0: the primary account; 1-63: a subaccount of the parent."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "subaccount"],
                condition=models.Q(parent__isnull=False),
                name="unique_subaccount_per_parent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"

    def __repr__(self) -> str:
        return f"<KalshiAccount {self.pk} {self.name!r} {self.environment} key_id={self.api_key_id!r}>"

    @property
    def funding_account(self) -> KalshiAccount:
        """The primary account this one belongs to (itself when it is a primary)."""
        return self.parent if self.parent_id is not None and self.parent is not None else self

    def set_private_key(self, pem: str | bytes) -> None:
        """Validate and encrypt a PEM private key (raises ValueError for a bad key, without echoing it)."""
        data = pem.encode() if isinstance(pem, str) else pem
        KalshiSigner.from_pem(self.api_key_id or "validation", data)
        self.private_key_encrypted = crypto.encrypt(data)

    @property
    def has_key(self) -> bool:
        return bool(self.private_key_encrypted or self.private_key_path)

    def signer(self) -> KalshiSigner:
        if self.private_key_encrypted:
            return KalshiSigner.from_pem(self.api_key_id, crypto.decrypt(self.private_key_encrypted))
        if self.private_key_path:
            return KalshiSigner.from_pem_file(self.api_key_id, self.private_key_path)
        raise ValueError(f"account {self.name!r} has no private key")

    def urls(self) -> tuple[str, str]:
        """(REST base, WS URL) of this account's exchange."""
        if self.environment == self.Environment.PRODUCTION:
            if settings.KALSHI_ENV == "production":
                return settings.KALSHI_API_BASE, settings.KALSHI_WS_URL
            return PRODUCTION.rest_base, PRODUCTION.ws_url
        if self.environment == self.Environment.DEMO:
            if settings.KALSHI_ENV == "demo":
                return settings.KALSHI_API_BASE, settings.KALSHI_WS_URL
            return DEMO.rest_base, DEMO.ws_url
        if settings.KALSHI_ENV == "simulator":
            return settings.KALSHI_API_BASE, settings.KALSHI_WS_URL
        host, port = settings.KALSHI_SIM_HOST, settings.KALSHI_SIM_PORT
        return f"http://{host}:{port}/trade-api/v2", f"ws://{host}:{port}/trade-api/ws/v2"


class SubaccountTransfer(models.Model):
    """A cash move between two subaccounts of one Kalshi account, ordered by staff (issue #15). The row, with its
    `client_transfer_id`, is stored before anything is sent, so a lost answer is sent again with the same id and
    Kalshi applies it once."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DONE = "done", "done"
        FAILED = "failed", "refused"

    funding_account = models.ForeignKey(
        KalshiAccount, on_delete=models.PROTECT, related_name="subaccount_transfers"
    )
    from_account = models.ForeignKey(KalshiAccount, on_delete=models.PROTECT, related_name="+")
    to_account = models.ForeignKey(KalshiAccount, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY, help_text="Dollars (whole cents).")
    client_transfer_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"${self.amount} {self.from_account.name} → {self.to_account.name} ({self.status})"


class ComboRequest(models.Model):
    """A trader's request for quote on a combo (issue #15, item 9): the row is stored before the RFQ is sent; an
    accept moves it `open` → `accepting` with a conditional update, so a double click sends one accept."""

    class Status(models.TextChoices):
        SENDING = "sending", "sending…"
        OPEN = "open", "waiting for quotes"
        ACCEPTING = "accepting", "accepting…"
        EXECUTED = "executed", "executed"
        FAILED = "failed", "failed"
        CLOSED = "closed", "closed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="combo_requests"
    )
    account = models.ForeignKey(KalshiAccount, on_delete=models.PROTECT, related_name="combo_requests")
    market_ticker = models.CharField(max_length=100)
    legs = models.JSONField(default=list)  # [{"market_ticker", "event_ticker", "side"}]
    contracts = models.DecimalField(**COUNT)
    rfq_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SENDING)
    accepted_quote_id = models.CharField(max_length=100, blank=True)
    accepted_side = models.CharField(max_length=3, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"RFQ {self.rfq_id or '?'} {self.contracts} x {self.market_ticker} ({self.status})"


class TradingHalt(models.Model):
    """The global trading halt (a single row, id=1), set by staff."""

    halted = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    set_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "Trading HALTED" if self.halted else "Trading open"

    @classmethod
    def current(cls) -> TradingHalt:
        halt, _ = cls.objects.get_or_create(pk=1)
        return halt


class TraderProfile(models.Model):
    """Links a user to the Kalshi account they trade, with their risk limits. No profile: viewer only."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trader")
    account = models.ForeignKey(
        KalshiAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="traders"
    )
    can_trade = models.BooleanField(default=True)
    halted = models.BooleanField(default=False, help_text="Set by the trader's kill switch or by staff.")
    halted_reason = models.CharField(max_length=300, blank=True)
    max_contracts_per_order = models.DecimalField(**COUNT, null=True, blank=True)
    max_notional_per_order = models.DecimalField(**MONEY, null=True, blank=True, help_text="Dollars.")
    max_position_per_market = models.DecimalField(**COUNT, null=True, blank=True)
    # Order groups (trading/order_groups.py): the exchange cancels the trader's orders and refuses new ones once
    # more than this many contracts fill within 15 s, until reset. Empty: no order group.
    max_contracts_filled_per_15s = models.DecimalField(
        "max contracts filled per 15 s",
        max_digits=9,
        decimal_places=0,
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="The trader's order group on the exchange: past this, Kalshi cancels and blocks their orders "
        "until reset. Empty: no order group.",
    )

    # The desk's keyboard shortcuts and one-click (trading/hotkeys.py): {"keys": {action: key}, "one_click": bool}
    desk_settings = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.user} → {self.account or 'no account'}"

    @property
    def trading_enabled(self) -> bool:
        return self.can_trade and not self.halted and self.account_id is not None


class OrderQuerySet(models.QuerySet["Order"]):
    def open(self) -> OrderQuerySet:
        return self.filter(status__in=Order.OPEN_STATUSES)

    def for_user(self, user: Any) -> OrderQuerySet:
        return self.filter(user=user)


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "sending…"
        SUBMITTING = "submitting", "sending…"
        RESTING = "resting", "resting"
        EXECUTED = "executed", "filled"
        CANCELED = "canceled", "canceled"
        REJECTED = "rejected", "rejected"
        UNKNOWN = "unknown", "reconciling"
        EXPIRED = "expired", "expired"

    class TimeInForce(models.TextChoices):
        GTC = "gtc", "Good till canceled"
        GTT = "gtt", "Good till time"
        IOC = "ioc", "Immediate or cancel"
        FOK = "fok", "Fill or kill"

    OPEN_STATUSES = (Status.NEW, Status.SUBMITTING, Status.RESTING, Status.UNKNOWN)
    FINAL_STATUSES = (Status.EXECUTED, Status.CANCELED, Status.REJECTED, Status.EXPIRED)
    # A row still "sending…" after this long says so (the order worker may be down) and offers Cancel.
    SLOW_TO_SEND_SECONDS = 5

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    account = models.ForeignKey(KalshiAccount, on_delete=models.PROTECT, related_name="orders")
    ticker = models.CharField(max_length=120, db_index=True)
    # As the trader chose it…
    outcome = models.CharField(max_length=3, choices=[("yes", "YES"), ("no", "NO")])
    action = models.CharField(max_length=4, choices=[("buy", "Buy"), ("sell", "Sell")])
    price = models.DecimalField(**PRICE, help_text="Limit price in the chosen outcome's leg.")
    # …and as sent to the V2 endpoint (YES leg).
    book_side = models.CharField(max_length=3, choices=[("bid", "bid"), ("ask", "ask")])
    yes_price = models.DecimalField(**PRICE)
    count = models.DecimalField(**COUNT)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    expiration_time = models.DateTimeField(null=True, blank=True)
    post_only = models.BooleanField(default=False)
    reduce_only = models.BooleanField(default=False)
    client_order_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The X-Request-ID of the POST that placed it: its tasks and fills log under the same id (kalshiweb.logs).
    request_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    exchange_order_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    order_group_id = models.CharField(max_length=100, blank=True, default="")  # the exchange's, when in one
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW, db_index=True)
    fill_count = models.DecimalField(**COUNT, default=Decimal("0"))
    remaining_count = models.DecimalField(**COUNT, default=Decimal("0"))
    average_fill_price = models.DecimalField(**MONEY, null=True, blank=True)
    fees = models.DecimalField(**MONEY, default=Decimal("0"))
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # A requested amend until the exchange has it: the new limit in the trader's leg and the new total count
    # (already filled + the remaining wanted), as Kalshi's amend takes it. Absolute targets, so sending the same
    # amend twice leaves the same order.
    amend_price = models.DecimalField(**PRICE, null=True, blank=True)
    amend_count = models.DecimalField(**COUNT, null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "status"]), models.Index(fields=["account", "status"])]

    def __str__(self) -> str:
        return (
            f"{self.action} {self.count} {self.outcome.upper()} {self.ticker} @ {self.price} [{self.status}]"
        )

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def left(self) -> Decimal:
        """Contracts still working: 0 once the order is finished."""
        if not self.is_open:
            return Decimal(0)
        total = self.amend_count if self.amend_count is not None else self.count
        return max(total - self.fill_count, Decimal(0))

    @property
    def is_partially_filled(self) -> bool:
        return self.fill_count > 0 and self.status == self.Status.RESTING

    @property
    def badge(self) -> str:
        if self.is_partially_filled:
            return f"partially filled {self.fill_count.normalize():f}/{self.count.normalize():f}"
        return self.get_status_display()

    @property
    def cancelable(self) -> bool:
        """Resting on the exchange, or not sent yet (canceled here and now, while the worker may be down)."""
        return self.status in (self.Status.RESTING, self.Status.NEW) and not self.cancel_requested

    @property
    def age_seconds(self) -> float:
        return (timezone.now() - self.created_at).total_seconds()

    @property
    def slow_to_send(self) -> bool:
        return self.status == self.Status.NEW and self.age_seconds >= self.SLOW_TO_SEND_SECONDS

    @property
    def submit_max_age(self) -> int:
        return int(settings.KALSHIWEB_ORDER_SUBMIT_MAX_AGE_SECONDS)

    @property
    def too_old_to_send(self) -> bool:
        """Never sent this long after the trader placed it: the market has moved on, so it is not sent at all."""
        return self.age_seconds > self.submit_max_age

    @property
    def amending(self) -> bool:
        return self.amend_price is not None

    @property
    def amendable(self) -> bool:
        return self.cancelable and not self.amending and bool(self.exchange_order_id)

    def request_amend(self, price: Decimal, count: Decimal) -> bool:
        """Record an amend to send. False when the order is no longer resting, is being canceled, or already
        has an amend in flight (one at a time: the second would race the first on the exchange)."""
        now = timezone.now()
        n = Order.objects.filter(
            pk=self.pk, status=self.Status.RESTING, cancel_requested=False, amend_price__isnull=True
        ).update(amend_price=price, amend_count=count, updated_at=now)
        if n:
            self.amend_price, self.amend_count, self.updated_at = price, count, now
        return n == 1

    def finish_amend(self, **changes: Any) -> bool:
        """Clear the amend in flight (the exchange has it, refused it, or the order is gone), with `changes`."""
        changes.setdefault("updated_at", timezone.now())
        n = Order.objects.filter(pk=self.pk, amend_price__isnull=False).update(
            amend_price=None, amend_count=None, **changes
        )
        if n:
            for key, value in changes.items():
                setattr(self, key, value)
            self.amend_price = self.amend_count = None
        return n == 1

    def mark_cancel_requested(self) -> bool:
        """Mark the order "canceling…" (the exchange is to cancel it). False: it already was."""
        now = timezone.now()
        n = Order.objects.filter(pk=self.pk, cancel_requested=False).update(
            cancel_requested=True, updated_at=now
        )
        if n:
            self.cancel_requested, self.updated_at = True, now
        return n == 1

    def clear_cancel_requested(self) -> None:
        """The exchange refused the cancel: the order is no longer "canceling…"."""
        Order.objects.filter(pk=self.pk).update(cancel_requested=False)
        self.cancel_requested = False

    def _transition(self, from_statuses: tuple[str, ...], **changes: Any) -> bool:
        changes.setdefault("updated_at", timezone.now())
        n = Order.objects.filter(pk=self.pk, status__in=from_statuses).update(**changes)
        if n:
            expressions = [k for k, v in changes.items() if hasattr(v, "resolve_expression")]
            for key, value in changes.items():
                if key not in expressions:
                    setattr(self, key, value)
            if expressions:
                self.refresh_from_db(fields=expressions)
        return n == 1

    def mark_submitting(self) -> bool:
        """Claim the order for submission. False: another worker (or an earlier delivery) has it.

        The claim is a conditional update on status NEW. It is first tried with the attempt count this object
        was read with (`attempts = n + 1 WHERE attempts = n`), so the new count is known without re-reading the
        row; if the row changed since it was read, the claim is made with `attempts + 1` and the count re-read."""
        now = timezone.now()
        claimed = Order.objects.filter(pk=self.pk, status=self.Status.NEW, attempts=self.attempts).update(
            status=self.Status.SUBMITTING, submitted_at=now, attempts=self.attempts + 1, updated_at=now
        )
        if claimed:
            self.status, self.submitted_at, self.attempts, self.updated_at = (
                self.Status.SUBMITTING,
                now,
                self.attempts + 1,
                now,
            )
            return True
        return self._transition(
            (self.Status.NEW,),
            status=self.Status.SUBMITTING,
            submitted_at=now,
            attempts=models.F("attempts") + 1,
        )

    def release_for_retry(self) -> bool:
        """Back to NEW after a failure that proves the exchange did not take the order (e.g. 429)."""
        return self._transition((self.Status.SUBMITTING, self.Status.UNKNOWN), status=self.Status.NEW)

    def cancel_unsent(self) -> bool:
        """Cancel locally an order that was never sent. Once an attempt has been made (attempts > 0) it may
        still reach the exchange, even from NEW (released after a 429 or a not-found reconcile): then only the
        exchange can cancel it, after the resubmission with the same client_order_id has found or placed it."""
        n = Order.objects.filter(pk=self.pk, status=self.Status.NEW, attempts=0).update(
            status=self.Status.CANCELED, remaining_count=Decimal("0"), updated_at=timezone.now()
        )
        if n:
            self.status, self.remaining_count = self.Status.CANCELED, Decimal("0")
        return n == 1

    def expire_unsent(self, reason: str) -> bool:
        """NEW -> EXPIRED: an order not sent within the submission age is never sent. The same conditional update
        on status NEW as the worker's claim (`mark_submitting`): whichever runs first wins, the other changes
        nothing, so an order is either sent or expired, never both."""
        return self._transition(
            (self.Status.NEW,),
            status=self.Status.EXPIRED,
            error_code="expired",
            error_message=reason[:500],
            remaining_count=Decimal("0"),
        )

    def mark_unknown(self, reason: str) -> bool:
        return self._transition(
            (self.Status.SUBMITTING,),
            status=self.Status.UNKNOWN,
            error_code="outcome_unknown",
            error_message=reason[:500],
        )

    def mark_rejected(self, code: str, message: str) -> bool:
        return self._transition(
            (self.Status.NEW, self.Status.SUBMITTING, self.Status.UNKNOWN),
            status=self.Status.REJECTED,
            error_code=code[:100],
            error_message=message[:500],
            remaining_count=Decimal("0"),
        )


class Fill(models.Model):
    # Unique per account, not globally: two of our accounts can be the two sides of one trade.
    fill_id = models.CharField(max_length=100)
    account = models.ForeignKey(KalshiAccount, on_delete=models.PROTECT, related_name="fills")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="fills")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="fills"
    )
    exchange_order_id = models.CharField(max_length=100, db_index=True)
    ticker = models.CharField(max_length=120, db_index=True)
    outcome_side = models.CharField(max_length=3)
    book_side = models.CharField(max_length=3)
    action = models.CharField(max_length=20, blank=True)
    yes_price = models.DecimalField(**PRICE)
    count = models.DecimalField(**COUNT)
    fee = models.DecimalField(**MONEY, default=Decimal("0"))
    is_taker = models.BooleanField(default=False)
    post_position = models.DecimalField(**COUNT, null=True, blank=True)
    created_time = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_time", "-pk"]
        constraints = [models.UniqueConstraint(fields=["account", "fill_id"], name="unique_fill_per_account")]

    def __str__(self) -> str:
        return f"fill {self.fill_id} {self.count} {self.ticker} @ {self.yes_price}"

    @property
    def price(self) -> Decimal:
        """The price in the traded outcome's leg."""
        return self.yes_price if self.outcome_side == "yes" else Decimal(1) - self.yes_price


class OrderEvent(models.Model):
    """Append-only audit of every order state change: who, when, what was sent (never a key), what came back."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=100)
    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=12, blank=True)
    sent = models.JSONField(null=True, blank=True)
    received = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind} by {self.actor}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("order events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("order events are append-only")


class TOTPDevice(models.Model):
    """A user's authenticator (RFC 6238 TOTP, 6 digits, 30 s): the second factor at login (trading.twofactor)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret_encrypted = models.TextField(editable=False)  # base32 secret, encrypted like the traders' keys
    confirmed = models.BooleanField(default=False)
    last_step = models.BigIntegerField(default=0, editable=False)  # the last time step used: no code twice
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "two-factor device"

    def __str__(self) -> str:
        return f"TOTP for {self.user} ({'active' if self.confirmed else 'not confirmed'})"

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted).decode()


class OrderGroup(models.Model):
    """A trader's order group on the exchange (trading/order_groups.py): its id once created, its limit as last
    sent, and its state as last learned (from our own calls, the `order_group_updates` channel, or an order the
    exchange refused because the group is triggered)."""

    class State(models.TextChoices):
        ACTIVE = "active", "active"
        TRIGGERED = "triggered", "tripped"

    profile = models.OneToOneField(TraderProfile, on_delete=models.CASCADE, related_name="order_group")
    account = models.ForeignKey(KalshiAccount, on_delete=models.CASCADE, related_name="order_groups")
    exchange_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    contracts_limit = models.DecimalField(max_digits=9, decimal_places=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    # Set while a worker creates the group on the exchange (a claim: one creation at a time per trader).
    creating_since = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"order group of {self.profile.user} ({self.state})"

    @property
    def triggered(self) -> bool:
        return self.state == self.State.TRIGGERED


from trading.alerts_models import Alert  # noqa: E402  (the app's models are found here)
from trading.brackets_models import Bracket, SizingSetting  # noqa: E402

__all__ = [
    "Alert",
    "Bracket",
    "ComboRequest",
    "Fill",
    "KalshiAccount",
    "Order",
    "OrderEvent",
    "OrderGroup",
    "SizingSetting",
    "SubaccountTransfer",
    "TOTPDevice",
    "TraderProfile",
    "TradingHalt",
]
