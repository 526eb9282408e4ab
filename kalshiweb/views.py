from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from portfolio.services import ledger_for
from trading.services import trader_profile


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The desk's home: a trader who holds a position opens on their portfolio, everyone else on the markets."""
    user = request.user
    profile = trader_profile(user) if user.is_authenticated else None
    account = profile.account if profile else None
    if account is not None and ledger_for(account, user).open_positions():
        return redirect("portfolio:index")
    return redirect("markets:list")
