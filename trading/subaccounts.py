"""A desk's subaccounts (issue #15, item 6): one funded Kalshi account, one numbered subaccount per trader.

Staff create a subaccount of a primary account (a new `KalshiAccount` row with the parent's key and its
number) and move cash between the parent and its subaccounts. Each transfer is a `SubaccountTransfer` row
stored *before* it is sent, with the `client_transfer_id` Kalshi uses for idempotency: an answer that is lost
leaves the row pending, and sending it again (`send_transfer`) reuses the id, so the cash moves once.
Everything goes through `client_for` (the key's shared rate bucket).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import transaction

from kalshiweb.kalshi.errors import ExchangeUnavailable, KalshiError, OutcomeUnknown, RateLimited
from trading import signals
from trading.clients import client_for
from trading.models import KalshiAccount, SubaccountTransfer

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


class SubaccountError(Exception):
    """A request staff must change (shown to them as it is)."""


def create_subaccount(parent: KalshiAccount, name: str | None = None) -> KalshiAccount:
    """Create the next subaccount of `parent` on the exchange and its row here.

    Kalshi's create is not idempotent; when its answer is lost, the subaccounts the exchange lists that no
    row knows are adopted instead of creating another."""
    if parent.parent_id is not None:
        raise SubaccountError("a subaccount cannot have subaccounts of its own: pick the primary account")
    if name is not None and KalshiAccount.objects.filter(name=name).exists():
        raise SubaccountError(f"an account named {name!r} exists already")
    client = client_for(parent)
    try:
        number = client.create_subaccount()
    except (OutcomeUnknown, ExchangeUnavailable) as exc:
        known = set(parent.subaccounts.values_list("subaccount", flat=True))
        listed = [b.subaccount_number for b in client.get_subaccount_balances()]
        unknown = sorted(n for n in listed if n and n not in known)
        if not unknown:
            raise SubaccountError(f"the exchange did not create a subaccount ({exc}); try again") from exc
        number = unknown[-1]
    return KalshiAccount.objects.create(
        name=name or f"{parent.name} · sub {number}",
        environment=parent.environment,
        api_key_id=parent.api_key_id,
        private_key_encrypted=parent.private_key_encrypted,
        private_key_path=parent.private_key_path,
        parent=parent,
        subaccount=number,
    )


def check_transfer(from_account: KalshiAccount, to_account: KalshiAccount, amount: Decimal) -> None:
    funding = from_account.funding_account
    if to_account.funding_account.pk != funding.pk:
        raise SubaccountError("both accounts must be subaccounts of the same Kalshi account")
    if from_account.pk == to_account.pk:
        raise SubaccountError("pick two different accounts")
    if amount <= 0 or amount != amount.quantize(CENT):
        raise SubaccountError("the amount must be a positive number of dollars and whole cents")


def order_transfer(
    from_account: KalshiAccount, to_account: KalshiAccount, amount: Decimal, user: Any = None
) -> SubaccountTransfer:
    """Check and store a transfer (pending); `send_transfer` sends it."""
    check_transfer(from_account, to_account, amount)
    funding = from_account.funding_account
    return SubaccountTransfer.objects.create(
        funding_account=funding,
        from_account=from_account,
        to_account=to_account,
        amount=amount,
        created_by=user,
    )


def send_transfer(transfer_id: int) -> SubaccountTransfer:
    """Send a pending transfer (again, after a lost answer: same client_transfer_id, applied once)."""
    transfer = SubaccountTransfer.objects.select_related("funding_account", "from_account", "to_account").get(
        pk=transfer_id
    )
    if transfer.status != SubaccountTransfer.Status.PENDING:
        return transfer
    client = client_for(transfer.funding_account)
    status, error = SubaccountTransfer.Status.PENDING, ""
    try:
        client.transfer_between_subaccounts(
            from_subaccount=transfer.from_account.subaccount,
            to_subaccount=transfer.to_account.subaccount,
            amount_cents=int(transfer.amount / CENT),
            client_transfer_id=str(transfer.client_transfer_id),
        )
        status = SubaccountTransfer.Status.DONE
    except (OutcomeUnknown, ExchangeUnavailable, RateLimited) as exc:
        error = f"not confirmed yet ({type(exc).__name__}): send it again"
    except KalshiError as exc:
        status, error = SubaccountTransfer.Status.FAILED, str(exc.message or exc)[:300]
    SubaccountTransfer.objects.filter(pk=transfer.pk, status=SubaccountTransfer.Status.PENDING).update(
        status=status, error=error
    )
    transfer.refresh_from_db()
    if status == SubaccountTransfer.Status.DONE:
        for account in (transfer.from_account, transfer.to_account):
            pk = account.pk
            transaction.on_commit(
                lambda pk=pk: signals.cash_moved.send(sender=KalshiAccount, account_id=pk)  # type: ignore[misc]
            )
    return transfer
