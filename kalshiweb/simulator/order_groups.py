"""Order groups: Kalshi's exchange-side risk limit (docs.kalshi.com/getting_started/order_groups).

A group has a contracts limit measured over a rolling 15-second window. Orders placed with the group's id
are tracked against it; when the contracts they fill in the last 15 s *exceed* the limit, the group is
triggered: every resting order in it is canceled and new orders naming it are rejected until it is reset.
A manual trigger does the same at once; lowering the limit below the current rolling volume triggers too;
reset clears the triggered state and the rolling counter; delete cancels the group's orders and removes it.
Every change is announced as an `OrderGroupEvent` (the `order_group_updates` channel).

Fills are counted as they happen (a bus listener) but the cancels of a trip run after the write that caused
them (`settle`, called by the engine facade), never in the middle of a match.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from kalshiweb.simulator.core import Core, ticker_state
from kalshiweb.simulator.events import FillEvent, OrderGroupEvent, SimEvent
from kalshiweb.simulator.matching import Matcher
from kalshiweb.simulator.model import ZERO, ExchangeError, Order

WINDOW = timedelta(seconds=15)
MAX_LIMIT = Decimal(1_000_000)
MAX_GROUPS_PER_USER = 100_000


@dataclass
class OrderGroup:
    group_id: str
    user_id: str
    subaccount: int
    limit: Decimal
    triggered: bool = False
    fills: deque[tuple[datetime, Decimal]] = field(default_factory=deque)
    order_ids: list[str] = field(default_factory=list)

    def rolling(self, now: datetime) -> Decimal:
        while self.fills and self.fills[0][0] <= now - WINDOW:
            self.fills.popleft()
        return sum((q for _, q in self.fills), ZERO)


class OrderGroups:
    def __init__(self, core: Core, matcher: Matcher) -> None:
        self._core = core
        self._matcher = matcher
        self.groups: dict[str, OrderGroup] = {}
        self._pending: set[str] = set()
        core.bus.add_listener(self._on_event)

    # ------------------------------------------------------------------ reads

    def get(self, user_id: str, group_id: str) -> OrderGroup:
        g = self.groups.get(group_id)
        if g is None or g.user_id != user_id:
            raise ExchangeError(404, "not_found", f"order group {group_id!r} not found")
        return g

    def of_user(self, user_id: str, subaccount: int | None = None) -> list[OrderGroup]:
        return [
            g
            for g in self.groups.values()
            if g.user_id == user_id and (subaccount is None or g.subaccount == subaccount)
        ]

    # ------------------------------------------------------------------ checks for the order path

    def check_order(self, user_id: str, group_id: str | None) -> None:
        """Raise when a new order may not join `group_id` (unknown, someone else's, or triggered)."""
        if group_id is None:
            return
        g = self.groups.get(group_id)
        if g is None or g.user_id != user_id:
            raise ExchangeError(404, "order_group_not_found", f"order group {group_id!r} not found")
        if g.triggered:
            raise ExchangeError(
                400,
                "order_group_triggered",
                "order group is triggered: no new orders until it is reset",
                group_id,
            )

    def joined(self, order: Order) -> None:
        if order.order_group_id and order.order_group_id in self.groups and order.order_id:
            self.groups[order.order_group_id].order_ids.append(order.order_id)

    # ------------------------------------------------------------------ writes

    @staticmethod
    def _check_limit(limit: object) -> Decimal:
        if (
            not isinstance(limit, Decimal)
            or limit != limit.to_integral_value()
            or not 1 <= limit <= MAX_LIMIT
        ):
            raise ExchangeError(
                400, "invalid_parameters", "contracts_limit must be a whole number from 1 to 1,000,000"
            )
        return limit

    def create(self, user_id: str, limit: Decimal, subaccount: int = 0) -> OrderGroup:
        limit = self._check_limit(limit)
        if not 0 <= subaccount <= 63:
            raise ExchangeError(400, "invalid_parameters", "subaccount must be between 0 and 63")
        if len(self.of_user(user_id)) >= MAX_GROUPS_PER_USER:
            raise ExchangeError(400, "too_many_order_groups", "at most 100,000 order groups per user")
        g = OrderGroup(self._core.new_id(), user_id, subaccount, limit)
        self.groups[g.group_id] = g
        self._announce(g, "created", limit=True)
        return g

    def trigger(self, user_id: str, group_id: str) -> OrderGroup:
        g = self.get(user_id, group_id)
        self._trip(g)
        return g

    def reset(self, user_id: str, group_id: str) -> OrderGroup:
        g = self.get(user_id, group_id)
        g.triggered = False
        g.fills.clear()
        self._pending.discard(group_id)
        self._announce(g, "reset")
        return g

    def update_limit(self, user_id: str, group_id: str, limit: Decimal) -> OrderGroup:
        g = self.get(user_id, group_id)
        g.limit = self._check_limit(limit)
        self._announce(g, "limit_updated", limit=True)
        if not g.triggered and g.rolling(self._core.now) > g.limit:
            self._trip(g)
        return g

    def delete(self, user_id: str, group_id: str) -> None:
        g = self.get(user_id, group_id)
        self._cancel_orders(g)
        del self.groups[group_id]
        self._pending.discard(group_id)
        self._announce(g, "deleted")

    # ------------------------------------------------------------------ the limit

    def _on_event(self, ev: SimEvent) -> None:
        if not isinstance(ev, FillEvent):
            return
        gid = ev.order.order_group_id
        g = self.groups.get(gid) if gid else None
        if g is None:
            return
        g.fills.append((self._core.now, ev.fill.count))
        if not g.triggered and g.rolling(self._core.now) > g.limit:
            self._pending.add(g.group_id)

    def settle(self) -> None:
        """Trip every group whose rolling volume passed its limit during the last write."""
        while self._pending:
            g = self.groups.get(self._pending.pop())
            if g is not None and not g.triggered:
                self._trip(g)

    def _trip(self, g: OrderGroup) -> None:
        self._cancel_orders(g)
        if not g.triggered:
            g.triggered = True
            self._announce(g, "triggered")

    def _cancel_orders(self, g: OrderGroup) -> None:
        for oid in list(g.order_ids):
            order = self._matcher.orders.get(oid)
            if order is None or not order.is_resting:
                continue
            m = self._core.markets[order.ticker]
            before = ticker_state(m)
            self._matcher.cancel_resting(m, order, None)
            self._core.touch(m, before)
        g.order_ids = [oid for oid in g.order_ids if (o := self._matcher.orders.get(oid)) and o.is_resting]

    def _announce(self, g: OrderGroup, event_type: str, *, limit: bool = False) -> None:
        self._core.emit(
            OrderGroupEvent(g.user_id, g.group_id, event_type, g.limit if limit else None, g.subaccount)
        )
