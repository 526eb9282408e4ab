from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils import timezone

from markets.models import Market
from trading.preview import taker_fee

ONE = Decimal(1)
# A number as a trader types it: ASCII digits, an optional sign and decimal point. Python's Decimal (behind
# Django's DecimalField) also reads any Unicode digit ("١٢" is 12) and exponents ("1e3"): never on a ticket.
ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class AsciiDecimalField(forms.DecimalField):
    default_error_messages = {"invalid": "Enter a number using the digits 0-9 (and a decimal point)."}

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip() and not ASCII_NUMBER.fullmatch(value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class AsciiDateTimeField(forms.DateTimeField):
    """Dates and times in ASCII digits only (Python's date parsing also reads other scripts' digits)."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not value.isascii():
            raise forms.ValidationError("Enter a date and time using the digits 0-9.", code="invalid")
        return super().to_python(value)


def on_grid(price: Decimal, price_ranges: list[dict[str, str]]) -> bool:
    """A price is valid when it lies on a step of one of the market's price ranges (whole cents always are)."""
    if not 0 < price < 1:
        return False
    if price == price.quantize(Decimal("0.01")):
        return True
    for r in price_ranges or [{"start": "0", "end": "1", "step": "0.01"}]:
        try:
            start, end, step = Decimal(r["start"]), Decimal(r["end"]), Decimal(r["step"])
        except (KeyError, InvalidOperation):
            continue
        if start <= price <= end and step > 0 and (price - start) % step == 0:
            return True
    return False


def price_steps_cents(market: Market) -> list[Decimal]:
    """The market's price steps in cents, finest first (1¢ when its ranges name none)."""
    steps = set()
    for r in market.price_ranges or [{"step": "0.01"}]:
        try:
            step = Decimal(str(r.get("step", "")))
        except InvalidOperation:
            continue
        if step > 0:
            steps.add(step * 100)
    return sorted(steps) or [Decimal(1)]


def grid_steps(market: Market) -> str:
    """The market's price steps in cents, as the limit is entered: "1¢", or "0.1¢, 1¢" for a finer range."""
    return ", ".join(f"{s.normalize():f}¢" for s in price_steps_cents(market))


class OrderTicketForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("yes", "YES"), ("no", "NO")], initial="yes")
    action = forms.ChoiceField(choices=[("buy", "Buy"), ("sell", "Sell")], initial="buy")
    count = AsciiDecimalField(label="Contracts", max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    price_cents = AsciiDecimalField(label="Limit (¢)", max_digits=8, decimal_places=2)
    time_in_force = forms.ChoiceField(
        label="Time in force",
        choices=[("gtc", "GTC"), ("gtt", "GTT"), ("ioc", "IOC"), ("fok", "FOK")],
        initial="gtc",
    )
    expiration = AsciiDateTimeField(
        label="Expires", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    post_only = forms.BooleanField(required=False)
    reduce_only = forms.BooleanField(required=False)
    # The idempotency token: the order's client_order_id, made when the ticket is rendered. A second POST of the
    # same ticket (a double-click, a retried request) finds the order the first one placed and creates nothing.
    client_order_id = forms.UUIDField(required=False, initial=uuid.uuid4, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        market: Market,
        limits: Any = None,
        position: Decimal | Callable[[], Decimal] = Decimal(0),
        balance: Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.market = market
        self.limits = limits
        self._position = position
        self.balance = balance
        self.fields["count"].error_messages.update(
            {
                "min_value": "Quantity must be at least 0.01 contracts.",
                "max_decimal_places": "Quantity can have at most 2 decimals (0.01 contracts).",
            }
        )
        self.fields["price_cents"].error_messages.update(
            {"max_decimal_places": "That price is finer than any Kalshi price grid."}
        )

    @property
    def position(self) -> Decimal:
        """The trader's net YES position in this market. Given as a callable, it is read on first use only:
        placing an order needs it only for reduce-only and a position limit, so the usual order does not
        query it before its commit (the re-rendered ticket reads it after)."""
        if callable(self._position):
            self._position = self._position()
        return self._position

    def clean_price_cents(self) -> Decimal:
        cents = self.cleaned_data["price_cents"]
        price = (cents / 100).normalize()
        if not 0 < price < 1:
            raise forms.ValidationError("The limit must be between 0¢ and 100¢ (exclusive).")
        if not on_grid(price, self.market.price_ranges):
            raise forms.ValidationError(
                f"{cents.normalize():f}¢ is not on this market's price grid (steps of {grid_steps(self.market)})."
            )
        return cents

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if not self.market.is_open or (self.market.close_time and self.market.close_time <= timezone.now()):
            raise forms.ValidationError("This market is not open for trading.")
        if "price_cents" in data:
            data["price"] = (data["price_cents"] / 100).normalize()
        tif = data.get("time_in_force")
        if tif == "gtt":
            expiration = data.get("expiration")
            if expiration is None:
                self.add_error("expiration", "Good-till-time orders need an expiry.")
            elif expiration <= timezone.now() + timedelta(seconds=5):
                self.add_error("expiration", "The expiry must be in the future.")
        elif data.get("expiration"):
            data["expiration"] = None
        if data.get("post_only") and tif in ("ioc", "fok"):
            self.add_error("post_only", "Post-only orders must rest: use GTC or GTT.")
        if data.get("reduce_only"):
            if tif != "ioc":
                self.add_error(
                    "reduce_only", "Kalshi accepts reduce-only only with immediate-or-cancel (IOC)."
                )
            held = self.position if data.get("outcome") == "yes" else -self.position
            if data.get("action") == "buy" or held <= 0:
                self.add_error("reduce_only", "Reduce-only must sell a position you hold in this outcome.")
        self._check_limits(data)
        return data

    def _check_limits(self, data: dict[str, Any]) -> None:
        count, price = data.get("count"), data.get("price")
        if count is None or price is None:
            return
        limits = self.limits
        if limits is not None:
            if limits.max_contracts_per_order is not None and count > limits.max_contracts_per_order:
                self.add_error(
                    "count",
                    f"Over your limit of {limits.max_contracts_per_order.normalize():f} contracts per order.",
                )
            notional = count * (price if data.get("action") == "buy" else ONE - price)
            if limits.max_notional_per_order is not None and notional > limits.max_notional_per_order:
                self.add_error(
                    "count",
                    f"Over your limit of ${limits.max_notional_per_order:,.2f} per order (this one: ${notional:,.2f}).",
                )
            if limits.max_position_per_market is not None:
                signed = count if (data.get("outcome") == "yes") == (data.get("action") == "buy") else -count
                after = abs(self.position + signed)
                if after > limits.max_position_per_market and after > abs(self.position):
                    self.add_error(
                        "count",
                        f"This would take your position to {after.normalize():f}, over your limit of {limits.max_position_per_market.normalize():f}.",
                    )
        if self.balance is not None and data.get("action") == "buy":
            cost = count * price + taker_fee(count, price if data.get("outcome") == "yes" else ONE - price)
            if cost > self.balance:
                self.add_error(
                    "count",
                    f"Insufficient balance: this order needs ${cost:,.2f}, you have ${self.balance:,.2f}.",
                )


class AmendForm(OrderTicketForm):
    """A new limit and/or size for a resting order. The order's outcome, action and time in force stay; the
    ticket's checks apply to the amended order as a whole (grid, quantity steps, market open, risk limits), with
    the order's own reservation counted as available and its fills already in the position."""

    def __init__(self, data: Any = None, *, order: Any, market: Market, **kwargs: Any) -> None:
        self.order = order
        if data is not None:
            data = {
                "count": data.get("count"),
                "price_cents": data.get("price_cents"),
                "outcome": order.outcome,
                "action": order.action,
                "time_in_force": order.time_in_force,
                "expiration": order.expiration_time,
                "post_only": order.post_only,
                "reduce_only": order.reduce_only,
            }
        initial = {"count": order.count.normalize(), "price_cents": (order.price * 100).normalize()}
        balance = kwargs.pop("balance", None)
        if balance is not None and order.action == "buy":
            leg = order.price if order.outcome == "yes" else ONE - order.price
            # What the order's remaining part already holds back counts as available to the amended order.
            balance += order.remaining_count * order.price + taker_fee(order.remaining_count, leg)
        super().__init__(data, market=market, balance=balance, initial=initial, **kwargs)
        self.fields["count"].label = "Contracts (total)"
        del self.fields["client_order_id"]  # an amend keeps the order's own

    def clean(self) -> dict[str, Any]:
        order = self.order
        count = self.cleaned_data.get("count")
        if count is not None:
            filled = order.fill_count
            if count <= filled:
                self.add_error(
                    "count", f"Must be more than the {filled.normalize():f} contracts already filled."
                )
            # Risk and balance checks see what is still to trade: the fills are already in the position.
            signed = filled if (order.outcome == "yes") == (order.action == "buy") else -filled
            self._position = self.position - signed
            cents = self.cleaned_data.get("price_cents")
            if self.balance is not None and order.action == "buy" and cents is not None:
                self.balance += filled * cents / 100  # the filled part is paid for already
        data = super().clean()
        if (
            not self.errors
            and data.get("price") == order.price.normalize()
            and data.get("count") == order.count
        ):
            raise forms.ValidationError("Nothing to change: give a new limit or size.")
        return data
