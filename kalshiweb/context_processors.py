from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from markets.exchange_health import current
from trading import hotkeys
from trading.balance import cached_balance
from trading.services import trader_profile


def environment(request: HttpRequest) -> dict[str, Any]:
    """The exchange environment badge on every page, and the trader's available balance (cached, no REST call)."""
    context: dict[str, Any] = {"kalshi_env": settings.KALSHI_ENV, "topbar_balance": None}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # Read when a template shows it (the top bar's exchange strip, the markets list's empty state), once.
        context["exchange_status"] = functools.cache(current)
        profile = trader_profile(user)  # memoised on the user: the views of the same request reuse it
        context.update(hotkeys.overlay_context(profile))
        if profile is not None and profile.account is not None:
            account = profile.account

            @functools.cache
            def topbar_balance() -> Decimal | None:
                return cached_balance(account)[0]

            # Read when a template shows it (templates call callables), once: a partial such as the re-rendered
            # ticket after an order has no top bar and makes no Redis read for it.
            context["topbar_balance"] = topbar_balance
            context["topbar_env"] = account.environment
    return context
