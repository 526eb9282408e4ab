"""Resting order value (issue #15 item 7): the collateral held by resting orders.

The trader's own figure comes from their resting orders (remaining x the price of the leg each buys, in
`Decimal`); the account's comes from Kalshi (`GET /portfolio/summary/total_resting_order_value`, every trader on
the account and orders placed outside kalshiweb), cached in Redis and refreshed by a Celery task at most every
`MAX_AGE` seconds through the account's shared token bucket, so a page never waits on Kalshi.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from celery import shared_task
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kalshiweb.kalshi.errors import KalshiError
from markets import live
from trading.clients import client_for
from trading.models import KalshiAccount, Order, TraderProfile

log = logging.getLogger(__name__)

MAX_AGE = 30.0  # seconds before the exchange's figure is asked for again
ONE = Decimal(1)


def cache_key(account_id: int) -> str:
    return f"kw:resting:{account_id}"


@dataclass(frozen=True)
class RestingValue:
    mine: Decimal
    orders: int
    account: Decimal | None  # Kalshi's figure for the whole account; None until fetched
    account_as_of: float | None
    refreshing: bool


def own_value(user: Any) -> tuple[Decimal, int]:
    total, n = Decimal(0), 0
    rows = Order.objects.for_user(user).filter(status=Order.Status.RESTING)
    for book_side, yes_price, remaining in rows.values_list("book_side", "yes_price", "remaining_count"):
        total += remaining * (yes_price if book_side == "bid" else ONE - yes_price)
        n += 1
    return total, n


def cached(account_id: int) -> tuple[Decimal | None, float | None]:
    try:
        raw = live.client().get(cache_key(account_id))
    except Exception as exc:  # Redis down: the page still shows the trader's own figure
        log.warning("resting value cache unreadable: %s", exc)
        return None, None
    if not raw:
        return None, None
    data = json.loads(raw)
    return Decimal(data["cents"]) / 100, float(data["at"])


def request_refresh(account_id: int) -> bool:
    """Queue one refresh per `MAX_AGE` window (single flight across processes)."""
    try:
        if live.client().set(f"{cache_key(account_id)}:lock", "1", nx=True, ex=int(MAX_AGE)):
            refresh_resting_value.delay(account_id)
            return True
    except Exception as exc:
        log.warning("resting value refresh not queued: %s", exc)
    return False


def resting_value(user: Any) -> RestingValue | None:
    profile = TraderProfile.objects.select_related("account").filter(user_id=user.pk).first()
    if profile is None or profile.account is None:
        return None
    mine, n = own_value(user)
    account, at = cached(profile.account.pk)
    refreshing = False
    if profile.account.has_key and (at is None or time.time() - at > MAX_AGE):
        refreshing = request_refresh(profile.account.pk)
    return RestingValue(mine, n, account, at, refreshing)


@shared_task(ignore_result=True)
def refresh_resting_value(account_id: int) -> str:
    account = KalshiAccount.objects.filter(pk=account_id).first()
    if account is None or not account.has_key:
        return "no account"
    try:
        value = client_for(account).get_total_resting_order_value()
    except KalshiError as exc:  # shown as "not fetched"; asked again next window
        log.warning("account %s: total resting order value not fetched: %s", account_id, exc)
        return "failed"
    live.client().set(
        cache_key(account_id), json.dumps({"cents": value.total_cents, "at": time.time()}), ex=3600
    )
    return "ok"


@require_GET
@login_required
def panel(request: HttpRequest) -> HttpResponse:
    return render(request, "portfolio/_resting_value.html", {"resting": resting_value(request.user)})
