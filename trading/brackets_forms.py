"""The brackets panel's form: the ticket's own form (the entry's checks and the trader's limits) with the exits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from trading.brackets import BracketRefused, check_prices
from trading.brackets_models import Bracket
from trading.forms import AsciiDecimalField, OrderTicketForm, grid_steps, on_grid


def _cents_field(label: str) -> AsciiDecimalField:
    return AsciiDecimalField(label=label, required=False, max_digits=8, decimal_places=2)


class BracketForm(OrderTicketForm):
    take_profit_cents = _cents_field("Take-profit (¢)")
    stop_cents = _cents_field("Stop (¢)")
    stop_limit_cents = _cents_field("Stop limit (¢)")
    trigger = forms.ChoiceField(choices=Bracket.Trigger.choices, initial=Bracket.Trigger.QUOTE)

    def _price(self, name: str, *, on_grid_only: bool) -> Decimal | None:
        cents = self.cleaned_data.get(name)
        if cents is None:
            return None
        price = (cents / 100).normalize()
        if not 0 < price < 1:
            self.add_error(name, "Must be between 0¢ and 100¢ (exclusive).")
            return None
        if on_grid_only and not on_grid(price, self.market.price_ranges):
            self.add_error(name, f"Not on this market's price grid (steps of {grid_steps(self.market)}).")
            return None
        return price

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("reduce_only"):
            self.add_error("reduce_only", "A bracket's entry opens a position: it cannot be reduce-only.")
        data["take_profit"] = self._price("take_profit_cents", on_grid_only=True)
        data["stop"] = self._price("stop_cents", on_grid_only=False)
        data["stop_limit"] = self._price("stop_limit_cents", on_grid_only=True)
        if "price" in data and data.get("action") and not self.errors:
            try:
                check_prices(
                    data["action"], data["price"], data["take_profit"], data["stop"], data["stop_limit"]
                )
            except BracketRefused as exc:
                self.add_error(None, str(exc))
        return data
