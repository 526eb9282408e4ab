"""The alerts page (/orders/alerts/): set an alert, see the waiting ones and the history of fired ones, delete."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kalshiweb.http import TraderRequest
from markets.models import Market
from trading import alerts
from trading.models import Alert

MAX_WAITING = 100  # per trader: the checker reads every waiting alert each second


class AlertForm(forms.Form):
    kind = forms.ChoiceField(choices=Alert.Kind.choices)
    ticker = forms.CharField(max_length=120, required=False, strip=True)
    level = forms.CharField(
        max_length=12,
        required=False,
        strip=True,
        help_text="cents for a price or spread, minutes for a close",
    )
    email = forms.BooleanField(required=False)

    def clean_ticker(self) -> str:
        ticker = self.cleaned_data["ticker"].upper()
        if ticker and not Market.objects.filter(ticker=ticker).exists():
            raise forms.ValidationError(f"No market {ticker!r} is known here.")
        return ticker

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, ticker, level = data.get("kind"), data.get("ticker", ""), data.get("level", "")
        if kind is None or self.errors:
            return data
        if kind != Alert.Kind.ORDER_FILLED and not ticker:
            self.add_error("ticker", "Name the market this alert watches.")
        if kind == Alert.Kind.ORDER_FILLED:
            data["threshold"] = None
            return data
        try:
            number = Decimal(level)
        except InvalidOperation:
            self.add_error("level", "Enter a number.")
            return data
        if not number.is_finite():
            self.add_error("level", "Enter a number.")
        elif kind == Alert.Kind.CLOSING_WITHIN:
            if not 1 <= number <= 10080 or number != number.to_integral_value():
                self.add_error("level", "Whole minutes from 1 to 10080 (a week).")
            data["threshold"] = number
        elif kind == Alert.Kind.SPREAD_BELOW and not 0 <= number < 100:
            self.add_error("level", "A spread in cents from 0 to 99.")
        elif kind != Alert.Kind.SPREAD_BELOW and not 0 < number < 100:
            self.add_error("level", "A price in cents between 0 and 100 (e.g. 62 or 62.5).")
        else:
            data["threshold"] = (number / 100).quantize(Decimal("0.0001"))
        return data


def _page(request: TraderRequest, form: AlertForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "email_available": alerts.email_available(),
        **_lists(request),
        "live_tickers": [],  # a socket: alerts arrive here too, and the lists re-render when one fires
        "live_view": "alerts",
    }
    template = "trading/alerts.html#alerts-body" if request.htmx else "trading/alerts.html"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def alerts_page(request: TraderRequest) -> HttpResponse:
    if request.method == "GET":
        initial = {
            "ticker": request.GET.get("ticker", ""),
            "kind": request.GET.get("kind", Alert.Kind.PRICE_ABOVE),
        }
        return _page(request, AlertForm(initial=initial))
    form = AlertForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    if Alert.objects.filter(user=request.user, fired_at__isnull=True).count() >= MAX_WAITING:
        form.add_error(None, f"You have {MAX_WAITING} waiting alerts: delete some first.")
        return _page(request, form, status=400)
    data = form.cleaned_data
    Alert.objects.create(
        user=request.user,
        kind=data["kind"],
        ticker=data["ticker"],
        threshold=data.get("threshold"),
        email=data["email"],
    )
    if request.htmx:
        return _page(request, AlertForm(initial={"ticker": data["ticker"], "kind": data["kind"]}))
    return redirect("trading:alerts")


def _lists(request: TraderRequest) -> dict[str, Any]:
    mine = Alert.objects.filter(user=request.user)
    return {
        "waiting": list(mine.filter(fired_at__isnull=True)[:MAX_WAITING]),
        "fired": list(mine.filter(fired_at__isnull=False).order_by("-fired_at")[:50]),
    }


@require_GET
@login_required
def alerts_lists(request: TraderRequest) -> HttpResponse:
    """The waiting and fired lists alone (re-rendered when an alert fires)."""
    return render(request, "trading/alerts.html#alert-lists", _lists(request))


@require_POST
@login_required
def alert_delete(request: TraderRequest, alert_id: int) -> HttpResponse:
    get_object_or_404(Alert, pk=alert_id, user=request.user).delete()
    if request.htmx:
        return render(request, "trading/alerts.html#alert-lists", _lists(request))
    return redirect("trading:alerts")
