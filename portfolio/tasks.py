"""Celery tasks for the portfolio — thin: take an account id, call services, push the result."""

from __future__ import annotations

import logging

from celery import shared_task

from kalshiweb.kalshi.errors import KalshiError
from portfolio import services
from trading.models import KalshiAccount, TraderProfile

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def refresh_portfolio(account_id: int) -> str:
    """Refresh one account's snapshot from Kalshi, then push the new figures to its traders' pages.

    Queued through `services.request_refresh`, which keeps it single-flight per account."""
    from trading.clients import client_for

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
    return services.refresh_after_window(account_id)


@shared_task(ignore_result=True)
def refresh_portfolios() -> int:
    """Beat: keep every traded account's snapshot (and equity history) current. Single-flight per account."""
    queued = 0
    account_ids = set(TraderProfile.objects.exclude(account=None).values_list("account_id", flat=True))
    for account_id in sorted(account_ids):
        if services.request_refresh(account_id):
            queued += 1
    return queued
