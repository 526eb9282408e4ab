"""Subaccounts of a member (issue #15, item 6): numbered 1-63 beside the primary account (0), each with its own
cash, orders, fills and positions (each is an `Account` of the ledger, keyed by `ledger.account_key`), cash
transfers between them (idempotent by `client_transfer_id`), and the per-subaccount netting switch.

A transfer moves `deposited` with the cash, so the ledger's money invariant holds per account and in total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kalshiweb.simulator.core import Core
from kalshiweb.simulator.ledger import MAX_SUBACCOUNT, Ledger, account_key
from kalshiweb.simulator.model import Account, ExchangeError

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    client_transfer_id: str
    user_id: str
    from_subaccount: int
    to_subaccount: int
    amount_cents: int
    created: datetime


@dataclass
class MemberSubaccounts:
    count: int = 0  # numbered subaccounts created so far (they are 1..count)
    netting: dict[int, bool] = field(default_factory=dict)  # subaccount -> enabled (default True)
    transfers: list[Transfer] = field(default_factory=list)  # oldest first
    by_client_id: dict[str, Transfer] = field(default_factory=dict)


def _bad(details: str) -> ExchangeError:
    return ExchangeError(400, "invalid_parameters", details)


class Subaccounts:
    def __init__(self, core: Core, ledger: Ledger) -> None:
        self._core = core
        self._ledger = ledger
        self._members: dict[str, MemberSubaccounts] = {}

    def _member(self, user_id: str) -> MemberSubaccounts:
        self._ledger.account(user_id)  # 404 for an unknown member
        return self._members.setdefault(user_id, MemberSubaccounts())

    def create(self, user_id: str) -> int:
        """Create the member's next numbered subaccount (empty); 400 once all 63 exist."""
        member = self._member(user_id)
        if member.count >= MAX_SUBACCOUNT:
            raise _bad(f"at most {MAX_SUBACCOUNT} subaccounts per member")
        member.count += 1
        self._ledger.add_subaccount(user_id, member.count)
        return member.count

    def accounts(self, user_id: str) -> list[Account]:
        return self._ledger.member_accounts(user_id)

    def _check_number(self, user_id: str, number: object, name: str) -> int:
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_SUBACCOUNT:
            raise _bad(f"{name} must be an integer between 0 and {MAX_SUBACCOUNT}")
        if number and account_key(user_id, number) not in self._ledger.accounts:
            raise _bad(f"{name} {number} does not exist")
        return number

    def transfer(
        self, user_id: str, client_transfer_id: str, from_sub: object, to_sub: object, amount_cents: object
    ) -> Transfer:
        """Move `amount_cents` of available cash from one of the member's accounts to another, exactly once per
        `client_transfer_id`: a repeat with the same terms answers the first transfer, with other terms 400."""
        member = self._member(user_id)
        src = self._check_number(user_id, from_sub, "from_subaccount")
        dst = self._check_number(user_id, to_sub, "to_subaccount")
        if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
            raise _bad("amount_cents must be a positive integer")
        if not client_transfer_id:
            raise _bad("client_transfer_id is required")
        done = member.by_client_id.get(client_transfer_id)
        if done is not None:
            if (done.from_subaccount, done.to_subaccount, done.amount_cents) != (src, dst, amount_cents):
                raise _bad("client_transfer_id was already used for a different transfer")
            return done
        if src == dst:
            raise _bad("from_subaccount and to_subaccount must differ")
        source = self._ledger.sub_account(user_id, src)
        target = self._ledger.sub_account(user_id, dst)
        amount = Decimal(amount_cents) * CENT
        if source.balance < amount:
            raise ExchangeError(
                400, "insufficient_balance", f"subaccount {src} has {source.balance:.2f} available"
            )
        source.balance -= amount
        source.deposited -= amount
        target.balance += amount
        target.deposited += amount
        now = self._core.now
        source.updated = target.updated = now
        record = Transfer(self._core.new_id(), client_transfer_id, user_id, src, dst, amount_cents, now)
        member.transfers.append(record)
        member.by_client_id[client_transfer_id] = record
        return record

    def transfers(self, user_id: str) -> list[Transfer]:
        return list(self._member(user_id).transfers)

    def netting(self, user_id: str) -> list[tuple[int, bool]]:
        member = self._member(user_id)
        return [(a.subaccount, member.netting.get(a.subaccount, True)) for a in self.accounts(user_id)]

    def set_netting(self, user_id: str, number: object, enabled: object) -> None:
        member = self._member(user_id)
        sub = self._check_number(user_id, number, "subaccount_number")
        if not isinstance(enabled, bool):
            raise _bad("enabled must be a boolean")
        member.netting[sub] = enabled
