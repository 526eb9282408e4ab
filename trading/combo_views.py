"""The combos page (issue #15, item 9): build a combo, request a quote, watch quotes arrive, accept one."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from kalshiweb.http import TraderRequest
from kalshiweb.kalshi.errors import KalshiError
from trading import combos
from trading.models import ComboRequest
from trading.services import TradingRefused

COMBO_LEGS_MAX = 4


def _own(request: TraderRequest, pk: int) -> ComboRequest:
    return get_object_or_404(ComboRequest.objects.select_related("account"), pk=pk, user=request.user)


@require_GET
@login_required
def page(request: TraderRequest) -> HttpResponse:
    context: dict[str, object] = {
        "requests": ComboRequest.objects.filter(user=request.user)[:10],
        # the socket (no market) carries this trader's quote pushes; without it the panel polls (every 5 s)
        "live_tickers": [],
        "live_view": "combos",
    }
    try:
        context["collection"], context["groups"] = combos.collection(request.user)
    except TradingRefused as exc:
        context["error"] = str(exc)
    except KalshiError as exc:
        context["error"] = f"The exchange did not answer ({exc.message or exc}); try again shortly."
    return render(request, "trading/combos.html", context)


@require_POST
@login_required
def request_quote(request: TraderRequest) -> HttpResponse:
    legs = []
    for ticker in request.POST.getlist("leg")[: COMBO_LEGS_MAX + 1]:
        event, _, market = ticker.partition("|")
        side = request.POST.get(f"side-{market}", "yes")
        legs.append(
            {"market_ticker": market, "event_ticker": event, "side": side if side in ("yes", "no") else "yes"}
        )
    try:
        contracts = Decimal(request.POST.get("contracts", "").strip())
        if not contracts.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        return render(request, "trading/_combo_request.html", {"error": "Contracts must be a number."})
    try:
        row = combos.request_quote(request.user, request.POST.get("collection", ""), legs, contracts)
    except TradingRefused as exc:
        return render(request, "trading/_combo_request.html", {"error": str(exc)})
    # Quotes made before the request's id was stored (the bot, or the feed hearing `quote_created`, can be faster
    # than the commit) were pushed to nobody: read them now; later ones are pushed.
    found: list[combos.QuoteRow] = []
    if row.rfq_id:
        try:
            found = combos.quotes(row)
        except KalshiError:
            found = []  # the panel's own poll reads them again
    return render(request, "trading/_combo_request.html", {"combo": row, "quotes": found})


@require_GET
@login_required
def quotes(request: TraderRequest, pk: int) -> HttpResponse:
    row = combos.refresh(_own(request, pk))
    try:
        found = combos.quotes(row)
        error = ""
    except KalshiError as exc:
        found, error = [], f"Quotes could not be read ({exc.message or exc}); retrying."
    return render(request, "trading/_combo_request.html", {"combo": row, "quotes": found, "error": error})


@require_POST
@login_required
def accept(request: TraderRequest, pk: int) -> HttpResponse:
    row = _own(request, pk)
    quote_id = request.POST.get("quote_id", "")
    if not quote_id:
        raise Http404
    try:
        row = combos.accept(request.user, row, quote_id, request.POST.get("side", ""))
    except TradingRefused as exc:
        return render(request, "trading/_combo_request.html", {"combo": row, "quotes": [], "error": str(exc)})
    try:
        found = combos.quotes(row)
    except KalshiError:
        found = []
    return render(request, "trading/_combo_request.html", {"combo": row, "quotes": found})
