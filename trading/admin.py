from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from kalshiweb.kalshi.errors import KalshiError
from trading import order_groups, rate_budget, subaccounts
from trading.diagnosis import check_account
from trading.models import (
    Fill,
    KalshiAccount,
    Order,
    OrderEvent,
    OrderGroup,
    SubaccountTransfer,
    TOTPDevice,
    TraderProfile,
    TradingHalt,
)
from trading.tasks import cancel_order, reconcile_order


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders its value (like PasswordInput without render_value): a form that comes
    back with an error shows it empty, so a pasted private key never reaches the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class KalshiAccountForm(forms.ModelForm):
    # Write-only: the stored key is never rendered back (not even encrypted, not even the text just pasted
    # when the form has another error); leave empty to keep it.
    private_key = forms.CharField(
        widget=WriteOnlyTextarea(
            attrs={
                "rows": 4,
                "autocomplete": "off",
                "placeholder": "Paste a PEM private key to set or replace it",
            }
        ),
        required=False,
        help_text="Write-only. Stored encrypted with KALSHIWEB_FERNET_KEY; never shown again.",
    )

    class Meta:
        model = KalshiAccount
        fields = ["name", "environment", "api_key_id", "private_key_path"]

    def clean_private_key(self) -> str:
        pem = self.cleaned_data.get("private_key", "").strip()
        if pem:
            probe = KalshiAccount(api_key_id=self.cleaned_data.get("api_key_id") or "probe")
            try:
                probe.set_private_key(pem)
            except Exception:
                raise forms.ValidationError(
                    "This is not a usable private key (PEM, RSA or Ed25519)."
                ) from None
        return pem

    def full_clean(self) -> None:
        super().full_clean()
        # The pasted key is not rendered back, so say so where the trader would look for it.
        if self.is_bound and self.errors and (self.data.get("private_key") or "").strip():
            if "private_key" not in self.errors:
                self.add_error("private_key", "Not saved and not shown again: paste the key again.")

    def save(self, commit: bool = True) -> KalshiAccount:
        account = super().save(commit=False)
        pem = self.cleaned_data.get("private_key")
        if pem:
            account.set_private_key(pem)
        if commit:
            account.save()
        return account


@admin.register(KalshiAccount)
class KalshiAccountAdmin(admin.ModelAdmin):
    form = KalshiAccountForm
    list_display = ["name", "environment", "api_key_id", "key_stored", "parent", "subaccount", "rate_budget"]
    list_filter = ["environment"]
    actions = ["check_connection", "create_subaccount", "generate_api_key"]

    @admin.action(description="Create a subaccount of each selected primary account (for one trader)")
    def create_subaccount(self, request: HttpRequest, queryset: QuerySet[KalshiAccount]) -> None:
        for parent in queryset.order_by("name")[:20]:
            try:
                sub = subaccounts.create_subaccount(parent)
            except (subaccounts.SubaccountError, KalshiError) as exc:
                self.message_user(request, f"{parent.name}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"Created {sub.name} (subaccount {sub.subaccount}): fund it with a transfer, then link a trader.",
                messages.SUCCESS,
            )

    @admin.display(description="rate budget (tokens left)")
    def rate_budget(self, obj: KalshiAccount) -> Any:
        return rate_budget.meter_html(obj)

    @admin.action(description="Check the connection to the exchange (as manage.py kalshi_check)")
    def check_connection(self, request: HttpRequest, queryset: QuerySet[KalshiAccount]) -> None:
        for account in queryset.order_by("name")[:20]:
            checks = check_account(account)
            failed = [c for c in checks if c.status == "fail"]
            lines = "; ".join(c.line() for c in checks)
            level = messages.ERROR if failed else messages.SUCCESS
            self.message_user(request, f"{account.name}: {lines}", level)

    @admin.action(description="Generate a new API key on the exchange (stored encrypted, never shown)")
    def generate_api_key(self, request: HttpRequest, queryset: QuerySet[KalshiAccount]) -> None:
        from trading.api_keys import KeyRotationFailed, generate_key

        for account in queryset.order_by("name")[:20]:
            try:
                rotated = generate_key(account)
            except KeyRotationFailed as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            self.message_user(
                request,
                f"{account.name}: now signs with the new key {rotated.new_key_id}; the old key "
                f"{rotated.old_key_id} is still valid on the exchange until you delete it there.",
                messages.SUCCESS,
            )

    @admin.display(boolean=True, description="key set")
    def key_stored(self, obj: KalshiAccount) -> bool:
        return obj.has_key


class SubaccountTransferForm(forms.ModelForm):
    class Meta:
        model = SubaccountTransfer
        fields = ["from_account", "to_account", "amount"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        source, target, amount = data.get("from_account"), data.get("to_account"), data.get("amount")
        if source is not None and target is not None and amount is not None:
            try:
                subaccounts.check_transfer(source, target, amount)
            except subaccounts.SubaccountError as exc:
                raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(SubaccountTransfer)
class SubaccountTransferAdmin(admin.ModelAdmin):
    """Move cash between a Kalshi account and its subaccounts (issue #15)."""

    form = SubaccountTransferForm
    list_display = ["created_at", "from_account", "to_account", "amount", "status", "error", "created_by"]
    list_filter = ["status", "funding_account"]
    actions = ["send_again"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["from_account", "to_account", "amount", "status", "error", "client_transfer_id", "created_by"]

    def save_model(self, request: HttpRequest, obj: SubaccountTransfer, form: Any, change: bool) -> None:
        if change:
            return  # a transfer is never edited: it was sent, or is sent again with the same id
        stored = subaccounts.order_transfer(obj.from_account, obj.to_account, obj.amount, request.user)
        obj.pk = stored.pk
        sent = subaccounts.send_transfer(stored.pk)
        obj.refresh_from_db()
        level = messages.SUCCESS if sent.status == SubaccountTransfer.Status.DONE else messages.WARNING
        self.message_user(request, f"Transfer {sent}: {sent.error or 'done'}", level)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send pending transfers again (same transfer id: applied at most once)")
    def send_again(self, request: HttpRequest, queryset: QuerySet[SubaccountTransfer]) -> None:
        for transfer in queryset.filter(status=SubaccountTransfer.Status.PENDING)[:50]:
            sent = subaccounts.send_transfer(transfer.pk)
            self.message_user(request, f"{sent}: {sent.error or 'done'}")


@admin.register(TraderProfile)
class TraderProfileAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "account",
        "can_trade",
        "halted",
        "max_contracts_per_order",
        "max_notional_per_order",
        "max_position_per_market",
        "max_contracts_filled_per_15s",
        "order_group_state",
    ]
    list_filter = ["can_trade", "halted", "account"]
    search_fields = ["user__username"]
    actions = ["lift_halt", "reset_order_groups"]

    @admin.action(description="Lift the trading halt of selected traders")
    def lift_halt(self, request: HttpRequest, queryset: QuerySet[TraderProfile]) -> None:
        n = queryset.update(halted=False, halted_reason="")
        self.message_user(request, f"Lifted the halt of {n} trader(s).")

    # order groups (trading/order_groups.py)
    @admin.display(description="order group")
    def order_group_state(self, obj: TraderProfile) -> str:
        group = OrderGroup.objects.filter(profile=obj).first()
        if group is None or not group.exchange_id:
            return "—"
        return group.get_state_display()

    @admin.action(description="Reset the order group of selected traders on the exchange")
    def reset_order_groups(self, request: HttpRequest, queryset: QuerySet[TraderProfile]) -> None:
        groups = OrderGroup.objects.filter(profile__in=queryset).exclude(exchange_id=None)
        for group in groups:
            order_groups.reset_group.delay_on_commit(group.pk)
        self.message_user(request, f"Resetting {len(groups)} order group(s) on the exchange.")

    def save_model(self, request: HttpRequest, obj: TraderProfile, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "max_contracts_filled_per_15s" in form.changed_data:
            order_groups.limit_changed(obj)


@admin.register(TradingHalt)
class TradingHaltAdmin(admin.ModelAdmin):
    list_display = ["__str__", "reason", "set_by", "set_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not TradingHalt.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "actor", "kind", "status", "sent", "received", "note"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "created_at",
        "user",
        "ticker",
        "action",
        "outcome",
        "count",
        "price",
        "status",
        "fill_count",
    ]
    list_filter = ["status", "user", "account", "created_at"]
    search_fields = ["ticker", "client_order_id", "exchange_order_id"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [OrderEventInline]
    actions = ["cancel_selected", "reconcile_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Cancel selected orders")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        orders = list(queryset.filter(status__in=Order.OPEN_STATUSES))
        for order in orders:
            Order.objects.filter(pk=order.pk).update(cancel_requested=True)
            cancel_order.delay_on_commit(order.pk)
        self.message_user(request, f"Cancel requested for {len(orders)} open order(s).", messages.SUCCESS)

    @admin.action(description="Reconcile selected orders with the exchange")
    def reconcile_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        orders = list(queryset.filter(status__in=[Order.Status.SUBMITTING, Order.Status.UNKNOWN]))
        for order in orders:
            reconcile_order.delay_on_commit(order.pk)
        self.message_user(request, f"Reconciliation queued for {len(orders)} order(s) in submitting/unknown.")


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):
    list_display = [
        "created_time",
        "account",
        "user",
        "ticker",
        "outcome_side",
        "count",
        "yes_price",
        "fee",
        "is_taker",
    ]
    list_filter = ["account", "is_taker", "created_time"]
    search_fields = ["ticker", "fill_id", "exchange_order_id"]
    readonly_fields = [f.name for f in Fill._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ["at", "order", "kind", "actor", "status"]
    list_filter = ["kind", "at"]
    search_fields = ["order__ticker", "order__client_order_id"]
    readonly_fields = ["order", "at", "actor", "kind", "status", "sent", "received", "note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    """Two-factor devices: an admin resets a user who lost theirs by deleting it (the secret is never shown)."""

    list_display = ["user", "confirmed", "confirmed_at", "created_at"]
    list_filter = ["confirmed"]
    readonly_fields = ["user", "confirmed", "confirmed_at", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
