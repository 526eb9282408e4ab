"""Plain helpers for portfolio tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal as D
from typing import Any

from django.utils import timezone

from tests.factories import make_user
from trading.models import Fill, KalshiAccount, TraderProfile

_ids = itertools.count(1)


def make_trader(username: str = "alice") -> tuple[Any, KalshiAccount]:
    # A key path that is never read: these tests do not reach Kalshi, but the account counts as refreshable.
    account = KalshiAccount.objects.create(
        name=f"acct-{username}", api_key_id=f"key-{username}", private_key_path="/nonexistent/key.pem"
    )
    user = make_user(username)
    TraderProfile.objects.create(user=user, account=account)
    return user, account


def make_fill(
    account: KalshiAccount,
    ticker: str,
    book_side: str,
    yes_price: str,
    count: str,
    fee: str = "0",
    at: datetime | None = None,
    user: Any = "trader",
) -> Fill:
    """A fill of one of the account's trader's orders (the first trader's unless `user` is given; None: a
    fill of an order placed outside kalshiweb)."""
    if user == "trader":
        profile = TraderProfile.objects.filter(account=account).order_by("pk").first()
        user = profile.user if profile else None
    n = next(_ids)
    return Fill.objects.create(
        fill_id=f"f{n}", account=account, user=user, exchange_order_id=f"o{n}", ticker=ticker,
        outcome_side="yes" if book_side == "bid" else "no", book_side=book_side, yes_price=D(yes_price), count=D(count),
        fee=D(fee), created_time=at or timezone.now(),
    )  # fmt: skip


def add_trader(username: str, account: KalshiAccount) -> Any:
    """Another trader on the same Kalshi account."""
    user = make_user(username)
    TraderProfile.objects.create(user=user, account=account)
    return user
