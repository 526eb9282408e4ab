"""Cash in and out of an account (GET /portfolio/deposits, /portfolio/withdrawals).

An account's opening balance is its first deposit (applied, by ACH, when the account is added); further
deposits and withdrawals come from `/_sim/cash/...`. Each moves the ledger's balance and its `deposited`
total together, so the engine's money invariant holds. A withdrawal larger than the available cash is
refused and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kalshiweb.simulator.core import Core
from kalshiweb.simulator.ledger import Ledger
from kalshiweb.simulator.model import ZERO, Account, ExchangeError

TRANSFER_TYPES = ("ach", "wire", "crypto", "debit", "apm")


@dataclass
class Transfer:
    id: str
    kind: str  # deposit | withdrawal
    type: str  # ach | wire | crypto | debit | apm
    amount: Decimal  # dollars; the wire carries cents
    fee: Decimal
    created: datetime
    status: str = "applied"
    finalized: datetime | None = None


class Cash:
    def __init__(self, core: Core, ledger: Ledger) -> None:
        self._core = core
        self._ledger = ledger
        self.transfers: dict[str, list[Transfer]] = {}  # user id -> oldest first

    def add_account(self, user_id: str, balance: Decimal | None = None) -> Account:
        """`Ledger.add_account`, recording the opening balance as the account's first deposit."""
        known = user_id in self._ledger.accounts
        acct = self._ledger.add_account(user_id, balance)
        if not known and acct.deposited > ZERO:
            self._record(user_id, "deposit", "ach", acct.deposited)
        return acct

    def _record(self, user_id: str, kind: str, type_: str, amount: Decimal) -> Transfer:
        now = self._core.now
        transfer = Transfer(self._core.new_id(), kind, type_, amount, ZERO, now, "applied", now)
        self.transfers.setdefault(user_id, []).append(transfer)
        return transfer

    @staticmethod
    def _amount(amount: object, type_: str) -> Decimal:
        try:
            value = Decimal(str(amount))
        except Exception:
            raise ExchangeError(400, "invalid_parameters", "amount must be a number of dollars") from None
        if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
            raise ExchangeError(400, "invalid_parameters", "amount must be positive whole cents")
        if type_ not in TRANSFER_TYPES:
            raise ExchangeError(400, "invalid_parameters", f"type must be one of {', '.join(TRANSFER_TYPES)}")
        return value

    def deposit(self, user_id: str, amount: object, type_: str = "ach") -> Transfer:
        value = self._amount(amount, type_)
        self._ledger.deposit(user_id, value)
        return self._record(user_id, "deposit", type_, value)

    def withdraw(self, user_id: str, amount: object, type_: str = "ach") -> Transfer:
        value = self._amount(amount, type_)
        acct = self._ledger.account(user_id)
        if value > acct.balance:
            raise ExchangeError(400, "insufficient_balance", "withdrawal exceeds the available balance")
        acct.balance -= value
        acct.deposited -= value
        return self._record(user_id, "withdrawal", type_, value)

    def of(self, user_id: str, kind: str) -> list[Transfer]:
        return [t for t in self.transfers.get(user_id, []) if t.kind == kind]
