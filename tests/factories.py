"""Plain helpers that make model rows for tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from markets.models import Event, Market, Series


def make_user(username: str = "alice", password: str = "correct-horse-battery", **extra: Any) -> Any:
    return get_user_model().objects.create_user(username, password=password, **extra)


def make_market(ticker: str = "KXFED-26DEC-T4.25", **overrides: Any) -> Market:
    series, _ = Series.objects.get_or_create(
        ticker=ticker.split("-")[0], defaults={"title": "Fed", "category": "Economics"}
    )
    event, _ = Event.objects.get_or_create(
        event_ticker="-".join(ticker.split("-")[:2]),
        defaults={"series": series, "title": "Fed decision", "category": "Economics"},
    )
    fields: dict[str, Any] = {
        "event": event,
        "series": series,
        "title": "Fed cuts rates in December?",
        "status": "active",
        "open_time": timezone.now() - timedelta(days=1),
        "close_time": timezone.now() + timedelta(days=3),
        "rules_primary": "Resolves YES if the Fed cuts.",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "yes_bid": Decimal("0.42"),
        "yes_ask": Decimal("0.44"),
        "no_bid": Decimal("0.56"),
        "no_ask": Decimal("0.58"),
        "last_price": Decimal("0.43"),
        "volume": Decimal("182340"),
    }
    fields.update(overrides)
    return Market.objects.create(ticker=ticker, **fields)
