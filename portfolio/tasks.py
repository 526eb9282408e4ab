"""Celery tasks for the portfolio — thin: take an account id, call services, push the result — and
`request_refresh`, which queues the refresh single-flight per account."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.db import transaction

from kalshiweb.kalshi.errors import KalshiError
from markets import live
from portfolio import resting as _resting  # noqa: F401  (its refresh task, for the worker)
from portfolio import services
from trading.clients import client_for
from trading.models import KalshiAccount, TraderProfile

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def refresh_portfolio(account_id: int) -> str:
    """Refresh one account's snapshot from Kalshi, then push the new figures to its traders' pages.

    Queued through `request_refresh`, which keeps it single-flight per account."""
    account = KalshiAccount.objects.filter(pk=account_id).first()
    if account is None or not account.has_key:
        return "no account"
    try:
        services.refresh(account, client_for(account))
    except (KalshiError, OSError) as exc:
        log.warning("portfolio refresh of %s failed: %s", account.name, exc)
        services.record_refresh_error(account, f"Kalshi did not answer: {exc}")
        services.push(account)
        return f"failed: {exc}"
    except Exception as exc:  # e.g. an unusable key: the page must still say why nothing is fresh
        log.exception("portfolio refresh of %s failed", account.name)
        services.record_refresh_error(account, f"refresh failed: {type(exc).__name__}")
        services.push(account)
        return f"failed: {exc}"
    services.push(account)
    return "ok"


@shared_task(ignore_result=True)
def refresh_portfolio_after_window(account_id: int) -> bool:
    """A refresh asked for inside an account's refresh window, run when the window ended."""
    return refresh_after_window(account_id)


@shared_task(ignore_result=True)
def refresh_portfolios() -> int:
    """Beat: keep every traded account's snapshot (and equity history) current. Single-flight per account."""
    queued = 0
    account_ids = set(TraderProfile.objects.exclude(account=None).values_list("account_id", flat=True))
    for account_id in sorted(account_ids):
        if request_refresh(account_id):
            queued += 1
    return queued


def request_refresh(account_id: int, *, follow_up: bool = True) -> bool:
    """Queue a refresh unless one was queued within services.REFRESH_WINDOW. True: this call queued it.

    Asked inside the window, the refresh is not dropped: one follow-up per window runs when the window ends
    (a refresh that started just before a fill read the balance from before it)."""
    try:
        redis = live.client()
        acquired = redis.set(
            services.lock_key(account_id), str(time.time()), nx=True, ex=services.REFRESH_WINDOW
        )
        if acquired:
            refresh_portfolio.delay_on_commit(account_id)
            return True
        if not follow_up:
            return False
        left_ms = redis.pttl(services.lock_key(account_id))
        if left_ms < 0:  # the window ended between the two calls
            return request_refresh(account_id, follow_up=False)
        # One follow-up per window: a later request inside the same window is covered by it.
        if redis.set(
            services.followup_key(account_id), "1", nx=True, px=left_ms + services.REFRESH_WINDOW * 1000
        ):
            countdown = left_ms / 1000 + 0.05
            transaction.on_commit(
                lambda: refresh_portfolio_after_window.apply_async((account_id,), countdown=countdown)
            )
    except Exception as exc:
        log.warning("portfolio refresh lock unavailable (%s): not refreshing", exc)
    return False


def refresh_after_window(account_id: int) -> bool:
    """The follow-up: a refresh asked for inside the window that has now ended."""
    try:
        live.client().delete(services.followup_key(account_id))
    except Exception as exc:
        log.warning("portfolio refresh follow-up key unavailable (%s)", exc)
    # If another request took the lock since the window ended, its refresh started after ours was asked.
    return request_refresh(account_id, follow_up=False)
