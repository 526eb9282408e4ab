"""The account's available cash, cached briefly in Redis so the ticket and top bar do not call Kalshi per keystroke."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

from markets import live
from trading.models import KalshiAccount

log = logging.getLogger(__name__)
FRESH_SECONDS = 15


def _key(account: KalshiAccount) -> str:
    return f"kw:balance:{account.pk}"


def store_balance(account: KalshiAccount, balance: Decimal) -> None:
    try:
        live.client().set(_key(account), json.dumps({"balance": str(balance), "ts": time.time()}), ex=3600)
    except Exception as exc:
        log.warning("could not cache balance: %s", exc)


def cached_balance(account: KalshiAccount) -> tuple[Decimal | None, float | None]:
    try:
        raw = live.client().get(_key(account))
    except Exception:
        return None, None
    if not raw:
        return None, None
    data = json.loads(raw)
    return Decimal(data["balance"]), float(data["ts"])


def get_balance(account: KalshiAccount, *, max_age: float = FRESH_SECONDS) -> Decimal | None:
    """Available balance in dollars: cached, refreshed from GET /portfolio/balance when older than max_age."""
    balance, ts = cached_balance(account)
    if balance is not None and ts is not None and time.time() - ts < max_age:
        return balance
    from trading.clients import client_for

    try:
        fresh = client_for(account).get_balance().balance
    except Exception as exc:
        log.warning("balance refresh for %s failed: %s", account.name, exc)
        return balance
    store_balance(account, fresh)
    return fresh
