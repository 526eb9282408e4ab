"""Queue position (GET /portfolio/orders/{id}/queue_position): the contracts resting ahead of an order.

Kalshi matches by price, then time. An order's queue position is the number of contracts resting at its own
price level on its own side of the book that were placed before it (those fill first when a taker arrives at
that price). Better-priced orders are not counted: they are visible in the book itself.
"""

from __future__ import annotations

from decimal import Decimal

from kalshiweb.simulator.model import ZERO, ExchangeError, Market, Order


def queue_position(m: Market, order: Order) -> Decimal:
    if not order.is_resting:
        raise ExchangeError(404, "not_found", f"order {order.order_id} is not resting")
    level = m.side(order.outcome_side).get(order.own_price, [])
    ahead = ZERO
    for resting in level:
        if resting is order:
            return ahead
        ahead += resting.remaining_count
    raise ExchangeError(404, "not_found", f"order {order.order_id} is not on the book")
