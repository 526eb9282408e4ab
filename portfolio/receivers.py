"""The portfolio's subscriptions to what the trading app announces (`trading.signals`), connected in
`PortfolioConfig.ready()`."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from portfolio.services import push
from portfolio.tasks import request_refresh
from trading.models import KalshiAccount


def on_fill(account_id: int, **_: Any) -> None:
    """A fill was stored for this account: push new figures; refresh the cash soon."""
    account = KalshiAccount.objects.filter(pk=account_id).first()
    if account is None:
        return
    transaction.on_commit(lambda: request_refresh(account_id))
    push(account)


def on_position(account_id: int, ticker: str = "", **_: Any) -> None:
    """The feed's `market_positions`: Kalshi's figures for one market changed."""
    on_fill(account_id)


def on_cash_moved(account_id: int, **_: Any) -> None:
    """An order moved on the exchange (sent after the commit): a windowed refresh pushes the new balance."""
    request_refresh(account_id)
