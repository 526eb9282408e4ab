from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def environment(request: HttpRequest) -> dict[str, str]:
    """The exchange environment badge shown on every page (SIMULATOR / DEMO / PRODUCTION)."""
    return {"kalshi_env": settings.KALSHI_ENV}
