"""The account's available cash, cached briefly in Redis so the ticket and top bar do not call Kalshi per keystroke."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from typing import Any

from markets import live
from trading.clients import client_for
from trading.models import KalshiAccount

log = logging.getLogger(__name__)
FRESH_SECONDS = 15


def balance_key(account: KalshiAccount) -> str:
    return f"kw:balance:{account.pk}"


def parse_cached(data: Any) -> tuple[Decimal | None, float | None]:
    """(balance, stored at) from the cached JSON value; (None, None) when there is none or it is unreadable (the
    balance is then fetched again)."""
    try:
        return Decimal(data["balance"]), float(data["ts"])
    except (TypeError, KeyError, ValueError, ArithmeticError):
        return None, None


def store_balance(account: KalshiAccount, balance: Decimal) -> None:
    try:
        live.client().set(
            balance_key(account), json.dumps({"balance": str(balance), "ts": time.time()}), ex=3600
        )
    except Exception as exc:
        log.warning("could not cache balance: %s", exc)


def cached_balance(account: KalshiAccount) -> tuple[Decimal | None, float | None]:
    try:
        raw = live.client().get(balance_key(account))
    except Exception:
        return None, None
    if not raw:
        return None, None
    try:
        data = json.loads(raw)
    except ValueError:  # unreadable: fetched again, as when there is none
        return None, None
    return parse_cached(data)


def get_balance(
    account: KalshiAccount,
    *,
    max_age: float = FRESH_SECONDS,
    cached: tuple[Decimal | None, float | None] | None = None,
) -> Decimal | None:
    """Available balance in dollars: cached, refreshed from GET /portfolio/balance when older than max_age.
    `cached`: the cached value as the caller already read it (with other keys, in one round trip)."""
    balance, ts = cached if cached is not None else cached_balance(account)
    if balance is not None and ts is not None and time.time() - ts < max_age:
        return balance
    try:
        fresh = client_for(account).get_balance().balance
    except Exception as exc:
        log.warning("balance refresh for %s failed: %s", account.name, exc)
        return balance
    store_balance(account, fresh)
    return fresh
