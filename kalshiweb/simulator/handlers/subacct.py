"""Subaccounts (issue #15, item 6): create, balances, transfers between them, netting; the state lives in
`simulator.subaccounts`. The `subaccount` query and body fields of the order and portfolio routes are read by
`subaccount_param` / `subaccount_filter` here and applied in handlers/portfolio.py and handlers/orders.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from kalshiweb.kalshi.types import subaccounts as types
from kalshiweb.simulator.api import Request, Response, Route, bad_request, not_found, route
from kalshiweb.simulator.engine import Account, Exchange, Order
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.ledger import MAX_SUBACCOUNT
from kalshiweb.simulator.model import unix
from kalshiweb.simulator.parsing import paginate
from kalshiweb.simulator.subaccounts import Transfer
from kalshiweb.simulator.wire import q4


def balance_json(acct: Account, now: datetime) -> dict[str, Any]:
    body = types.SubaccountBalance(
        subaccount_number=acct.subaccount, exchange_index=0, balance=q4(acct.balance), updated=now
    )
    out: dict[str, Any] = msgspec.to_builtins(body)
    out["updated_ts"] = unix(acct.updated or now)  # Unix seconds on the wire
    return out


def transfer_json(t: Transfer) -> dict[str, Any]:
    body = types.SubaccountTransfer(
        transfer_id=t.transfer_id,
        from_subaccount=t.from_subaccount,
        to_subaccount=t.to_subaccount,
        amount_cents=t.amount_cents,
        created=t.created,
        exchange_index=0,
    )
    out: dict[str, Any] = msgspec.to_builtins(body)
    out["created_ts"] = unix(t.created)
    return out


def subaccount_param(req: Request) -> int:
    """`SubaccountQueryDefaultPrimary`: the subaccount a request acts on, 0 when omitted."""
    return req.q_int("subaccount", 0, lo=0, hi=MAX_SUBACCOUNT) or 0


def subaccount_filter(req: Request) -> int | None:
    """`SubaccountQuery`: one subaccount, or None (all of the member's) when omitted."""
    return req.q_int("subaccount", None, lo=0, hi=MAX_SUBACCOUNT)


def check_order_subaccount(order: Order, subaccount: int) -> None:
    """An order is addressed through its own subaccount (Kalshi looks it up in the one the request names)."""
    if order.subaccount != subaccount:
        raise not_found(f"order {order.order_id} not found in subaccount {subaccount}")


class SubaccountHandlers(EngineHandlers):
    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self.subaccounts = exchange.subaccounts

    def create_subaccount(self, req: Request) -> Response:
        data = req.json() if req.body else {}
        index = data.get("exchange_index", 0)
        if index != 0 or isinstance(index, bool):
            raise bad_request("exchange_index must be 0 (the only exchange shard)")
        return Response(201, {"subaccount_number": self.subaccounts.create(req.user)})

    def get_balances(self, req: Request) -> dict[str, Any]:
        return {
            "subaccount_balances": [
                balance_json(a, self.exchange.now) for a in self.subaccounts.accounts(req.user)
            ]
        }

    def transfer(self, req: Request) -> dict[str, Any]:
        data = req.json()
        cid = data.get("client_transfer_id")
        if not isinstance(cid, str) or not cid:
            raise bad_request("client_transfer_id is required")
        index = data.get("exchange_index", 0)
        if index != 0 or isinstance(index, bool):
            raise bad_request("exchange_index must be 0 (the only exchange shard)")
        self.subaccounts.transfer(
            req.user, cid, data.get("from_subaccount"), data.get("to_subaccount"), data.get("amount_cents")
        )
        return {}

    def get_transfers(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        rows = [transfer_json(t) for t in self.subaccounts.transfers(req.user)]
        page, cursor = paginate(
            rows,
            lambda t: [t["created_ts"], t["transfer_id"]],
            limit,
            req.q("cursor"),
            descending=True,
        )
        return {"transfers": page, "cursor": cursor}

    def get_netting(self, req: Request) -> dict[str, Any]:
        return {
            "netting_configs": [
                msgspec.to_builtins(
                    types.SubaccountNetting(subaccount_number=n, enabled=on, exchange_index=0)
                )
                for n, on in self.subaccounts.netting(req.user)
            ]
        }

    def update_netting(self, req: Request) -> Response:
        data = req.json()
        self.subaccounts.set_netting(req.user, data.get("subaccount_number"), data.get("enabled"))
        return Response(200, None)


def subaccount_routes(exchange: Exchange) -> list[Route]:
    h = SubaccountHandlers(exchange)
    return [
        route("POST", "/portfolio/subaccounts", h.create_subaccount, auth=True, kind="write"),
        route("GET", "/portfolio/subaccounts/balances", h.get_balances, auth=True),
        route("POST", "/portfolio/subaccounts/transfer", h.transfer, auth=True, kind="write"),
        route("GET", "/portfolio/subaccounts/transfers", h.get_transfers, auth=True),
        route("GET", "/portfolio/subaccounts/netting", h.get_netting, auth=True),
        route("PUT", "/portfolio/subaccounts/netting", h.update_netting, auth=True, kind="write"),
    ]
