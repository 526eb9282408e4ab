"""Order groups and account/limits responses (issue #15 items 1 and 7), declared once for the client and the
simulator. Same conventions as ``types/rest.py``: attribute names drop the wire suffixes, ``from_dict`` checks
the required fields and raises ``ProtocolError`` naming the object and the field.
"""

from __future__ import annotations

import re
from decimal import Decimal

import msgspec

from .rest import Wire
from .scalars import Count, Dollars, OptCount, Timestamp

# --- order groups -----------------------------------------------------------------------------------------------


class CreateOrderGroupResult(Wire, kw_only=True):
    OBJ = "CreateOrderGroupResponse"
    order_group_id: str
    subaccount: int
    exchange_index: int = 0


class OrderGroup(Wire, kw_only=True):
    OBJ = "OrderGroup"
    id: str
    is_auto_cancel_enabled: bool
    contracts_limit: OptCount | None = msgspec.field(name="contracts_limit_fp", default=None)
    exchange_index: int = 0


class OrderGroupList(Wire, kw_only=True):
    OBJ = "GetOrderGroupsResponse"
    order_groups: list[OrderGroup] = msgspec.field(default_factory=list)


class OrderGroupDetail(Wire, kw_only=True):
    OBJ = "GetOrderGroupResponse"
    is_auto_cancel_enabled: bool
    orders: list[str]
    contracts_limit: OptCount | None = msgspec.field(name="contracts_limit_fp", default=None)
    exchange_index: int = 0


# --- account and limits -----------------------------------------------------------------------------------------


class UserDataTimestamp(Wire, kw_only=True):
    OBJ = "GetUserDataTimestampResponse"
    as_of_time: Timestamp


class IndexedBalance(Wire, kw_only=True):
    OBJ = "IndexedBalance"
    exchange_index: int
    balance: Dollars


class RestingOrderValue(Wire, kw_only=True):
    OBJ = "GetPortfolioRestingOrderTotalValueResponse"
    total_cents: int = msgspec.field(name="total_resting_order_value")  # integer cents on the wire
    breakdown: list[IndexedBalance] = msgspec.field(name="resting_order_value_breakdown")

    @property
    def total(self) -> Decimal:
        return Decimal(self.total_cents) / 100


class EndpointCost(Wire, kw_only=True):
    OBJ = "EndpointTokenCost"
    method: str
    path: str
    cost: int


class EndpointCosts(Wire, kw_only=True):
    OBJ = "GetAccountEndpointCostsResponse"
    default_cost: int
    endpoint_costs: list[EndpointCost]

    def table(self) -> CostTable:
        return CostTable(self.default_cost, [(c.method, c.path, c.cost) for c in self.endpoint_costs])


class VolumeGoal(Wire, kw_only=True):
    OBJ = "AccountApiUsageLevelVolumeGoal"
    level: str
    earn_volume_goal: Count = msgspec.field(name="earn_volume_goal_fp")
    keep_volume_goal: Count = msgspec.field(name="keep_volume_goal_fp")


class VolumeProgress(Wire, kw_only=True):
    OBJ = "AccountApiUsageLevelVolumeProgress"
    computed_ts: int
    trailing_30d_volume: Count = msgspec.field(name="trailing_30d_volume_fp")
    goals: list[VolumeGoal]


class VolumeProgressList(Wire, kw_only=True):
    OBJ = "GetAccountApiUsageLevelVolumeProgressResponse"
    volume_progress: list[VolumeProgress]


class CostTable:
    """Token cost per request, from ``GET /account/endpoint_costs``: a path template (``{order_id}`` segments,
    with or without the ``/trade-api/v2`` prefix) per method, the rest at ``default_cost``."""

    def __init__(self, default_cost: int, entries: list[tuple[str, str, int]]) -> None:
        self.default_cost = default_cost
        self._entries: list[tuple[str, re.Pattern[str], int]] = []
        for method, path, cost in entries:
            path = path.removeprefix("/trade-api/v2")
            regex = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path.rstrip("/") or "/"))
            self._entries.append((method.upper(), re.compile(regex), cost))

    def cost(self, method: str, path: str) -> int:
        path = "/" + path.split("?", 1)[0].strip("/")
        for m, pattern, cost in self._entries:
            if m == method.upper() and pattern.fullmatch(path):
                return cost
        return self.default_cost
