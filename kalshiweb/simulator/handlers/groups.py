"""Order groups (7 operations) and the account/limits reads of issue #15 item 7: user data timestamp, total
resting order value, endpoint costs and API usage volume progress."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec

from kalshiweb.kalshi.types import groups as t
from kalshiweb.simulator.api import Request, Response, Route, bad_request
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.model import ZERO, unix
from kalshiweb.simulator.order_groups import OrderGroup
from kalshiweb.simulator.parsing import opt_field, parse_count
from kalshiweb.simulator.ratelimit import DEFAULT_COST
from kalshiweb.simulator.wire import cents, dollars, q2

# The volume-based API usage levels (Kalshi's docs name Expert … Prestige; the goals are the simulator's).
VOLUME_GOALS = (
    ("expert", Decimal(1_000_000), Decimal(750_000)),
    ("premier", Decimal(10_000_000), Decimal(7_500_000)),
    ("paragon", Decimal(50_000_000), Decimal(37_500_000)),
    ("prime", Decimal(250_000_000), Decimal(187_500_000)),
    ("prestige", Decimal(1_000_000_000), Decimal(750_000_000)),
)


def _body(obj: msgspec.Struct, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(obj)
    out.update(extra)
    return out


class GroupHandlers(EngineHandlers):
    # --- order groups --------------------------------------------------------------------------------------

    @staticmethod
    def _limit(data: dict[str, Any]) -> Decimal:
        whole = opt_field(data, "contracts_limit", int)
        fp = data.get("contracts_limit_fp")
        if whole is None and fp is None:
            raise bad_request("contracts_limit or contracts_limit_fp is required")
        limit = parse_count(fp, "contracts_limit_fp") if fp is not None else Decimal(whole)
        if whole is not None and Decimal(whole) != limit:
            raise bad_request("contracts_limit and contracts_limit_fp must match")
        return limit

    def _subaccount(self, req: Request) -> int:
        return req.q_int("subaccount", 0, lo=0, hi=63) or 0

    def _group_json(self, g: OrderGroup) -> dict[str, Any]:
        return _body(
            t.OrderGroup(id=g.group_id, is_auto_cancel_enabled=True, contracts_limit=q2(g.limit)),
            exchange_index=0,
        )

    def create_order_group(self, req: Request) -> Response:
        data = req.json()
        if not isinstance(data, dict):
            raise bad_request("body must be an object")
        subaccount = opt_field(data, "subaccount", int) or 0
        opt_field(data, "exchange_index", int)
        g = self.exchange.order_groups.create(req.user, self._limit(data), subaccount)
        result = t.CreateOrderGroupResult(order_group_id=g.group_id, subaccount=g.subaccount)
        return Response(201, _body(result, exchange_index=0))

    def get_order_groups(self, req: Request) -> dict[str, Any]:
        sub = req.q("subaccount")
        groups = self.exchange.order_groups.of_user(req.user, self._subaccount(req) if sub else None)
        return {"order_groups": [self._group_json(g) for g in groups]}

    def get_order_group(self, req: Request) -> dict[str, Any]:
        g = self.exchange.order_groups.get(req.user, req.params["order_group_id"])
        detail = t.OrderGroupDetail(
            is_auto_cancel_enabled=True, orders=list(g.order_ids), contracts_limit=q2(g.limit)
        )
        return _body(detail, exchange_index=0)

    def delete_order_group(self, req: Request) -> dict[str, Any]:
        self.exchange.order_groups.delete(req.user, req.params["order_group_id"])
        return {}

    def reset_order_group(self, req: Request) -> dict[str, Any]:
        self.exchange.order_groups.reset(req.user, req.params["order_group_id"])
        return {}

    def trigger_order_group(self, req: Request) -> dict[str, Any]:
        self.exchange.order_groups.trigger(req.user, req.params["order_group_id"])
        return {}

    def update_order_group_limit(self, req: Request) -> dict[str, Any]:
        data = req.json()
        if not isinstance(data, dict):
            raise bad_request("body must be an object")
        self.exchange.order_groups.update_limit(req.user, req.params["order_group_id"], self._limit(data))
        return {}

    # --- account and limits --------------------------------------------------------------------------------

    def get_user_data_timestamp(self, req: Request) -> dict[str, Any]:
        # The simulator's API reads are never behind its engine: data is as of now.
        return _body(t.UserDataTimestamp(as_of_time=self.exchange.now))

    def get_total_resting_order_value(self, req: Request) -> dict[str, Any]:
        account = self._account(req.user)
        total = sum((o.reserved for o in account.open_orders.values()), ZERO)
        return {
            "total_resting_order_value": cents(total),
            "resting_order_value_breakdown": [{"exchange_index": 0, "balance": dollars(total)}],
        }

    def get_volume_progress(self, req: Request) -> dict[str, Any]:
        account = self._account(req.user)
        since = self.exchange.now - timedelta(days=30)
        volume = sum((f.count for f in account.fills if f.created_time >= since), ZERO)
        goals = [
            {"level": level, "earn_volume_goal_fp": str(q2(earn)), "keep_volume_goal_fp": str(q2(keep))}
            for level, earn, keep in VOLUME_GOALS
        ]
        progress = {"computed_ts": unix(self.exchange.now), "trailing_30d_volume_fp": str(q2(volume))}
        return {"volume_progress": [{**progress, "goals": goals}]}


def endpoint_costs_handler(routes: Callable[[], list[Route]]) -> Callable[[Request], dict[str, Any]]:
    """GET /account/endpoint_costs from the route table itself: every route with a fixed non-default cost."""

    def handler(req: Request) -> dict[str, Any]:
        entries = []
        for r in routes():
            if r.cost is None:
                continue
            cost = r.cost(req)
            if cost != DEFAULT_COST:
                path = "/trade-api/v2" + _template(r.pattern.pattern)
                entries.append({"method": r.method, "path": path, "cost": cost})
        return {"default_cost": DEFAULT_COST, "endpoint_costs": entries}

    return handler


def _template(pattern: str) -> str:
    return re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", pattern)
