"""The account's cash history (issue #15): deposits and withdrawals from Kalshi, stored by the portfolio
refresh (never fetched while a page waits) and read by the portfolio page's cash panel.

Read at most once per SYNC_EVERY seconds per account (a Redis lock), two calls each time, through the
account's token bucket like every refresh call. Each row is written once (unique per account, kind and id);
a later status (pending → applied) updates it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.template.loader import render_to_string

from kalshiweb.kalshi.errors import NotFound
from markets import live
from portfolio.models import CashTransfer
from trading.lifecycle import notify_user
from trading.models import KalshiAccount, SubaccountTransfer, TraderProfile

log = logging.getLogger(__name__)

SYNC_EVERY = 300
MAX_PAGES = 20
SHOWN = 10


def due(account_id: int) -> bool:
    try:
        return bool(live.client().set(f"kw:portfolio:cash:{account_id}", "1", nx=True, ex=SYNC_EVERY))
    except Exception:
        return True


def sync(account: KalshiAccount, client: Any) -> int:
    """Store every deposit and withdrawal Kalshi lists; returns how many rows were new or changed status.

    Kalshi lists them for the whole account (the endpoints take no subaccount): a subaccount stores none — its
    cash comes and goes by the desk's transfers, which `recent` shows instead."""
    if account.subaccount:
        return 0
    known = {
        (kind, tid): status
        for kind, tid, status in CashTransfer.objects.filter(account=account).values_list(
            "kind", "transfer_id", "status"
        )
    }
    new = 0
    for kind, read in (
        (CashTransfer.Kind.DEPOSIT, client.get_deposits),
        (CashTransfer.Kind.WITHDRAWAL, client.get_withdrawals),
    ):
        cursor = None
        for _ in range(MAX_PAGES):
            try:
                page = read(limit=500, cursor=cursor)
            except NotFound:
                break  # an exchange without cash history
            for t in page.items:
                if known.get((kind, t.id)) == t.status:
                    continue  # known, unchanged
                CashTransfer.objects.update_or_create(
                    account=account,
                    kind=kind,
                    transfer_id=t.id,
                    defaults={
                        "method": t.type,
                        "status": t.status,
                        "amount": t.amount,
                        "fee": t.fee,
                        "created": t.created,
                        "finalized": t.finalized,
                    },
                )
                new += 1
            cursor = page.cursor
            if not cursor or not page.items:
                break
    return new


def visible_to(user: Any, account: KalshiAccount | None) -> bool:
    """Cash moves are the account's, not a trader's: staff, and the account's only trader, see them."""
    if account is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    traders = TraderProfile.objects.filter(account=account).values_list("user_id", flat=True)[:2]
    return list(traders) == [user.pk]


@dataclass(frozen=True)
class DeskTransfer:
    """A transfer between the desk's subaccounts, shaped as the cash panel shows a deposit or withdrawal."""

    pk: int
    kind: str  # "deposit" (into this subaccount) or "withdrawal" (out of it)
    status: str
    created: datetime
    amount: Decimal
    method: str = "desk"

    def get_kind_display(self) -> str:
        return "Transfer in" if self.kind == CashTransfer.Kind.DEPOSIT else "Transfer out"

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.kind == CashTransfer.Kind.DEPOSIT else -self.amount


def recent(account: KalshiAccount) -> Sequence[CashTransfer | DeskTransfer]:
    """The newest cash moves: the account's deposits and withdrawals; for a subaccount, the desk's transfers
    into and out of it (done or still pending)."""
    if not account.subaccount:
        return list(CashTransfer.objects.filter(account=account)[:SHOWN])
    moves = (
        SubaccountTransfer.objects.filter(Q(to_account=account) | Q(from_account=account))
        .exclude(status=SubaccountTransfer.Status.FAILED)
        .order_by("-created_at", "-pk")[:SHOWN]
    )
    return [
        DeskTransfer(
            pk=t.pk,
            kind=CashTransfer.Kind.DEPOSIT if t.to_account_id == account.pk else CashTransfer.Kind.WITHDRAWAL,
            status="applied" if t.status == SubaccountTransfer.Status.DONE else "pending",
            created=t.created_at,
            amount=t.amount,
        )
        for t in moves
    ]


def push(account: KalshiAccount) -> int:
    """Send the re-rendered cash panel to the portfolio pages of those who may see it; returns how many."""
    sent = 0
    for profile in TraderProfile.objects.filter(account=account).select_related("user"):
        if visible_to(profile.user, account):
            html = render_to_string(
                "portfolio/_cash_history.html", {"user": profile.user, "account": account, "oob": True}
            )
            notify_user(profile.user_id, html, views=("portfolio",))
            sent += 1
    return sent
