"""The brackets panel (market page) and the trader's brackets list (market page and orders page)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from kalshiweb.http import TraderRequest
from trading import brackets, services
from trading.brackets_forms import BracketForm
from trading.brackets_models import Bracket
from trading.views import TICKET_MARKETS, _checks, live_state, ticket_blocker


def _mine(request: TraderRequest, ticker: str | None) -> list[Bracket]:
    qs = Bracket.objects.filter(user=request.user).select_related("entry", "take_profit_order", "stop_order")
    if ticker:
        qs = qs.filter(ticker=ticker)
    return list(qs[:50])


@require_GET
@login_required
def brackets_list(request: TraderRequest, ticker: str | None = None) -> HttpResponse:
    return _list(request, ticker)


def _list(request: TraderRequest, ticker: str | None) -> HttpResponse:
    context = {"brackets": _mine(request, ticker), "ticker": ticker}
    return render(request, "trading/_brackets_list.html", context)


@require_GET
@login_required
def bracket_form(request: TraderRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(TICKET_MARKETS, ticker=ticker)
    return render(
        request, "trading/_brackets_form.html", {"market": market, "form": BracketForm(market=market)}
    )


@require_POST
@login_required
def bracket_place(request: TraderRequest, ticker: str) -> HttpResponse:
    """Place the entry (the ticket's path) and attach its exits, in one transaction: both or neither."""
    market = get_object_or_404(TICKET_MARKETS, ticker=ticker)
    state = live_state(request, market)
    form = BracketForm(request.POST, market=market, **_checks(request, market, state))
    _kind, blocker = ticket_blocker(request, market, state)
    placed = None
    if blocker:
        form.is_valid()
        form.add_error(None, blocker)
    elif form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                entry = services.place_order(request.user, data, ticker)
                placed = brackets.attach(
                    request.user,
                    entry,
                    take_profit=data["take_profit"],
                    stop=data["stop"],
                    stop_limit=data["stop_limit"],
                    trigger=data["trigger"],
                )
        except services.AlreadyPlaced as exc:
            placed = getattr(
                exc.order, "bracket", None
            )  # the same form posted twice: its bracket, nothing new
        except (services.TradingRefused, brackets.BracketRefused) as exc:
            form.add_error(None, str(exc))
    if placed is not None:
        fresh = BracketForm(market=market)
        response = render(
            request, "trading/_brackets_form.html", {"market": market, "form": fresh, "placed": placed}
        )
        response["HX-Trigger"] = "kw:brackets-changed"
        return response
    status = 200 if request.htmx else 400
    return render(request, "trading/_brackets_form.html", {"market": market, "form": form}, status=status)


@require_POST
@login_required
def bracket_cancel(request: TraderRequest, bracket_id: int) -> HttpResponse:
    bracket = Bracket.objects.filter(pk=bracket_id, user=request.user).first()
    if bracket is None:
        raise Http404("No such bracket.")  # another trader's bracket does not exist for this one
    brackets.cancel(request.user, bracket)
    response = _list(request, request.POST.get("ticker") or None)
    response["HX-Trigger"] = "kw:brackets-changed"
    return response
