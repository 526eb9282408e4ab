"""The subaccount endpoints of `KalshiClient` (issue #15, item 6), as a mixin over the transport.

Transfers are writes: never resent blindly. `transfer_between_subaccounts` needs a `client_transfer_id`
(a UUID, Kalshi's idempotency key): after `OutcomeUnknown`, send the same call again with the same id —
the exchange applies a transfer id at most once.
"""

from __future__ import annotations

import uuid

from .transport import RestTransport
from .types.rest import Page, page_of
from .types.subaccounts import (
    CreateSubaccountResult,
    SubaccountBalance,
    SubaccountNetting,
    SubaccountTransfer,
)


class SubaccountsMixin(RestTransport):
    async def create_subaccount(self) -> int:
        """Create the next numbered subaccount; returns its number (1-63). Not idempotent on Kalshi's side:
        after `OutcomeUnknown`, list `get_subaccount_balances` before trying again."""
        data = await self._request("POST", "/portfolio/subaccounts", body={})
        return CreateSubaccountResult.from_dict(data).subaccount_number

    async def get_subaccount_balances(self) -> list[SubaccountBalance]:
        o = "GetSubaccountBalancesResponse"
        data = await self._get("/portfolio/subaccounts/balances", signed=True)
        page = page_of(o, "subaccount_balances", data, SubaccountBalance.from_dict, cursor_required=False)
        return list(page.items)

    async def transfer_between_subaccounts(
        self,
        *,
        from_subaccount: int,
        to_subaccount: int,
        amount_cents: int,
        client_transfer_id: str | None = None,
    ) -> str:
        """Move cash; returns the `client_transfer_id` used. Raises `OutcomeUnknown` (carrying that id in
        `client_order_id`) when the answer is lost: repeat with the same id to finish exactly once."""
        cid = client_transfer_id or str(uuid.uuid4())
        body = {
            "client_transfer_id": cid,
            "from_subaccount": from_subaccount,
            "to_subaccount": to_subaccount,
            "amount_cents": amount_cents,
        }
        await self._request("POST", "/portfolio/subaccounts/transfer", body=body, client_order_id=cid)
        return cid

    async def get_subaccount_transfers(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[SubaccountTransfer]:
        o = "GetSubaccountTransfersResponse"
        data = await self._get(
            "/portfolio/subaccounts/transfers", {"limit": limit, "cursor": cursor}, signed=True
        )
        return page_of(o, "transfers", data, SubaccountTransfer.from_dict, cursor_required=False)

    async def get_subaccount_netting(self) -> list[SubaccountNetting]:
        o = "GetSubaccountNettingResponse"
        data = await self._get("/portfolio/subaccounts/netting", signed=True)
        page = page_of(o, "netting_configs", data, SubaccountNetting.from_dict, cursor_required=False)
        return list(page.items)

    async def update_subaccount_netting(self, subaccount_number: int, *, enabled: bool) -> None:
        await self._request(
            "PUT",
            "/portfolio/subaccounts/netting",
            body={"subaccount_number": subaccount_number, "enabled": enabled},
        )
