"""Order groups and the account/limits endpoints (issue #15 items 1 and 7), mixed into ``KalshiClient``.

Order-group writes follow the transport's write policy: never resent blindly (a lost answer raises
``OutcomeUnknown``). All of them are idempotent on the exchange except create, so a caller that loses a
create's answer must look the group up (``get_order_groups``) before creating another — the app keeps the id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .types.groups import (
    CostTable,
    CreateOrderGroupResult,
    EndpointCosts,
    OrderGroup,
    OrderGroupDetail,
    OrderGroupList,
    RestingOrderValue,
    UserDataTimestamp,
    VolumeProgressList,
)
from .types.scalars import format_count

if TYPE_CHECKING:
    from datetime import datetime

    from .transport import RestTransport

    _Base = RestTransport
else:
    _Base = object


def _limit_body(contracts_limit: Decimal | int) -> dict[str, Any]:
    limit = Decimal(contracts_limit)
    if limit != limit.to_integral_value() or limit < 1:
        raise ValueError("an order group's contracts limit is a whole number >= 1")
    return {"contracts_limit_fp": format_count(limit)}


class OrderGroupsMixin(_Base):
    # --- order groups --------------------------------------------------------------------------------------

    async def create_order_group(
        self, contracts_limit: Decimal | int, *, subaccount: int | None = None
    ) -> CreateOrderGroupResult:
        body = _limit_body(contracts_limit)
        if subaccount is not None:
            body["subaccount"] = subaccount
        data = await self._request("POST", "/portfolio/order_groups/create", body=body)
        return CreateOrderGroupResult.from_dict(data)

    async def get_order_groups(self, *, subaccount: int | None = None) -> list[OrderGroup]:
        data = await self._get("/portfolio/order_groups", {"subaccount": subaccount}, signed=True)
        return OrderGroupList.from_dict(data).order_groups

    async def get_order_group(
        self, order_group_id: str, *, subaccount: int | None = None
    ) -> OrderGroupDetail:
        data = await self._get(
            f"/portfolio/order_groups/{order_group_id}", {"subaccount": subaccount}, signed=True
        )
        return OrderGroupDetail.from_dict(data)

    async def delete_order_group(self, order_group_id: str, *, subaccount: int | None = None) -> None:
        await self._request(
            "DELETE", f"/portfolio/order_groups/{order_group_id}", params={"subaccount": subaccount}
        )

    async def reset_order_group(self, order_group_id: str, *, subaccount: int | None = None) -> None:
        await self._request(
            "PUT",
            f"/portfolio/order_groups/{order_group_id}/reset",
            params={"subaccount": subaccount},
            body={},
        )

    async def trigger_order_group(self, order_group_id: str, *, subaccount: int | None = None) -> None:
        await self._request(
            "PUT",
            f"/portfolio/order_groups/{order_group_id}/trigger",
            params={"subaccount": subaccount},
            body={},
        )

    async def update_order_group_limit(
        self, order_group_id: str, contracts_limit: Decimal | int, *, subaccount: int | None = None
    ) -> None:
        await self._request(
            "PUT",
            f"/portfolio/order_groups/{order_group_id}/limit",
            params={"subaccount": subaccount},
            body=_limit_body(contracts_limit),
        )

    # --- account and limits --------------------------------------------------------------------------------

    async def get_user_data_timestamp(self) -> datetime:
        data = await self._get("/exchange/user_data_timestamp", signed=True)
        return UserDataTimestamp.from_dict(data).as_of_time

    async def get_total_resting_order_value(self) -> RestingOrderValue:
        data = await self._get("/portfolio/summary/total_resting_order_value", signed=True)
        return RestingOrderValue.from_dict(data)

    async def get_endpoint_costs(self) -> EndpointCosts:
        return EndpointCosts.from_dict(await self._get("/account/endpoint_costs"))

    async def get_volume_progress(self) -> VolumeProgressList:
        return VolumeProgressList.from_dict(
            await self._get("/account/api_usage_level/volume_progress", signed=True)
        )

    async def load_endpoint_costs(self) -> CostTable:
        """Fetch the exchange's per-endpoint token costs and charge every later request by them."""
        table = (await self.get_endpoint_costs()).table()
        self.cost_table = table
        return table
