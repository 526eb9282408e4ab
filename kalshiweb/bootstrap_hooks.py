"""Steps other apps add to `make run`'s first-run set-up (kept separate so bootstrap stays small)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from trading.models import KalshiAccount, TraderProfile


def after_migrate() -> None:
    """With the built-in simulator: create its account and link the first user to it as a trader."""
    if settings.KALSHI_ENV != "simulator" or not settings.KALSHI_API_KEY_ID:
        return
    account, _ = KalshiAccount.objects.update_or_create(
        name="Simulator",
        defaults={
            "environment": KalshiAccount.Environment.SIMULATOR,
            "api_key_id": settings.KALSHI_API_KEY_ID,
            "private_key_path": settings.KALSHI_PRIVATE_KEY_PATH,
        },
    )
    first = get_user_model().objects.order_by("pk").first()
    if first is not None:
        TraderProfile.objects.get_or_create(user=first, defaults={"account": account})
