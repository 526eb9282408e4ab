"""Subaccount objects of Kalshi's REST API (issue #15, item 6): create, balances, transfers, netting."""

from __future__ import annotations

import msgspec

from .rest import Wire
from .scalars import Dollars, UnixS


class CreateSubaccountResult(Wire, kw_only=True):
    OBJ = "CreateSubaccountResponse"
    subaccount_number: int


class SubaccountBalance(Wire, kw_only=True):
    subaccount_number: int
    exchange_index: int
    balance: Dollars  # available cash of that subaccount, in dollars
    updated: UnixS = msgspec.field(name="updated_ts")


class SubaccountTransfer(Wire, kw_only=True):
    transfer_id: str
    from_subaccount: int
    to_subaccount: int
    amount_cents: int
    created: UnixS = msgspec.field(name="created_ts")
    exchange_index: int


class SubaccountNetting(Wire, kw_only=True):
    subaccount_number: int
    enabled: bool
    exchange_index: int
