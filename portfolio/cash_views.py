"""The portfolio's cash panel on its own (issue #15), for the page's polling: the same partial the page
includes and a refresh pushes (`portfolio.cash.push`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kalshiweb.http import TraderRequest
from trading.services import trader_profile


@require_GET
@login_required
def cash_panel(request: TraderRequest) -> HttpResponse:
    profile = trader_profile(request.user)
    account = profile.account if profile else None
    return render(request, "portfolio/_cash_history.html", {"account": account})
