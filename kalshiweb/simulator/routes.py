"""The REST route table: method, path, handler, auth, read/write bucket and rate-limit cost."""

from __future__ import annotations

import json
from collections.abc import Callable

from kalshiweb.simulator.api import Request, Response, Route, route
from kalshiweb.simulator.handlers.breadth import BreadthHandlers
from kalshiweb.simulator.handlers.exchange import ExchangeHandlers
from kalshiweb.simulator.handlers.groups import GroupHandlers, endpoint_costs_handler
from kalshiweb.simulator.handlers.history import HistoryHandlers
from kalshiweb.simulator.handlers.markets import MarketHandlers
from kalshiweb.simulator.handlers.orders import OrderHandlers
from kalshiweb.simulator.handlers.portfolio import PortfolioHandlers
from kalshiweb.simulator.handlers.rfq import rfq_routes
from kalshiweb.simulator.handlers.subacct import subaccount_routes
from kalshiweb.simulator.ratelimit import CANCEL_COST, DEFAULT_COST

V1_DEPRECATED = {
    "error": {
        "code": "deprecated_v1_order_endpoint",
        "message": "Please switch to the V2 endpoints",
        "details": "https://docs.kalshi.com/api-reference/orders/create-order-v2",
    }
}


def build_routes(
    exchange: ExchangeHandlers,
    markets: MarketHandlers,
    portfolio: PortfolioHandlers,
    orders: OrderHandlers,
    history: HistoryHandlers | None = None,
    *,
    breadth: BreadthHandlers | None = None,
) -> list[Route]:
    """Every REST route, relative to API_PREFIX. `auth` routes need a signed request; `write` routes a
    key with write scope; `cost` is the rate-limit cost when it is not the default."""
    r = route

    def batch_cost(per_item: int) -> Callable[[Request], int]:
        def cost(req: Request) -> int:
            try:
                items = json.loads(req.body).get("orders")
                return max(1, len(items)) * per_item
            except Exception:
                return per_item

        return cost

    def v1(req: Request) -> Response:
        return Response(400, V1_DEPRECATED)

    cancel_cost: Callable[[Request], int] = lambda req: CANCEL_COST  # noqa: E731
    # issue #15 history: historical data, queue positions, cash history
    history_routes = (
        []
        if history is None
        else [
            r("GET", "/historical/cutoff", history.get_cutoff),
            r("GET", "/historical/markets", history.get_markets),
            r("GET", "/historical/markets/{ticker}", history.get_market),
            r("GET", "/historical/markets/{ticker}/candlesticks", history.get_candlesticks),
            r("GET", "/historical/trades", history.get_trades),
            r("GET", "/historical/fills", history.get_fills, auth=True),
            r("GET", "/historical/orders", history.get_orders, auth=True),
            r("GET", "/historical/positions", history.get_positions, auth=True),
            r("GET", "/portfolio/orders/queue_positions", history.get_queue_positions, auth=True),
            r("GET", "/portfolio/orders/{order_id}/queue_position", history.get_queue_position, auth=True),
            r("GET", "/portfolio/deposits", history.get_deposits, auth=True),
            r("GET", "/portfolio/withdrawals", history.get_withdrawals, auth=True),
        ]
    )
    # issue #15 breadth (fees, discovery, live data, API keys): first, so /events/fee_changes and
    # /events/multivariate are not taken for /events/{event_ticker}
    breadth_routes = breadth.routes() if breadth is not None else []
    table: list[Route] = []
    table += [
        *breadth_routes,
        *history_routes,  # first: /portfolio/orders/queue_positions before /portfolio/orders/{order_id}
        r("GET", "/exchange/status", exchange.get_exchange_status),
        r("GET", "/exchange/schedule", exchange.get_exchange_schedule),
        r("GET", "/markets", markets.get_markets),
        r("GET", "/markets/trades", markets.get_trades),
        r("GET", "/markets/orderbooks", markets.get_orderbooks),
        r("GET", "/markets/candlesticks", markets.get_batch_candlesticks),
        r("GET", "/markets/{ticker}", markets.get_market),
        r("GET", "/markets/{ticker}/orderbook", markets.get_orderbook),
        r("GET", "/events", markets.get_events),
        r("GET", "/events/{event_ticker}", markets.get_event),
        r("GET", "/series", markets.get_series_list),
        r("GET", "/series/{series_ticker}", markets.get_series),
        r("GET", "/series/{series_ticker}/markets/{ticker}/candlesticks", markets.get_candlesticks),
        r("GET", "/portfolio/balance", portfolio.get_balance, auth=True),
        r("GET", "/portfolio/positions", portfolio.get_positions, auth=True),
        r("GET", "/portfolio/fills", portfolio.get_fills, auth=True),
        r("GET", "/portfolio/settlements", portfolio.get_settlements, auth=True),
        r("GET", "/portfolio/orders", portfolio.get_orders, auth=True),
        r("GET", "/portfolio/orders/{order_id}", portfolio.get_order, auth=True),
        r("GET", "/account/limits", portfolio.get_account_limits, auth=True),
        r("GET", "/api_keys", portfolio.get_api_keys, auth=True),
        r("POST", "/portfolio/events/orders", orders.create_order, auth=True, kind="write"),
        r("DELETE", "/portfolio/events/orders", orders.cancel_all, auth=True, kind="write"),
        r(
            "POST",
            "/portfolio/events/orders/batched",
            orders.batch_create,
            auth=True,
            kind="write",
            cost=batch_cost(DEFAULT_COST),
        ),
        r(
            "DELETE",
            "/portfolio/events/orders/batched",
            orders.batch_cancel,
            auth=True,
            kind="write",
            cost=batch_cost(CANCEL_COST),
        ),
        r(
            "DELETE",
            "/portfolio/events/orders/{order_id}",
            orders.cancel_order,
            auth=True,
            kind="write",
            cost=cancel_cost,
        ),
        r("POST", "/portfolio/events/orders/{order_id}/amend", orders.amend_order, auth=True, kind="write"),
        r(
            "POST",
            "/portfolio/events/orders/{order_id}/decrease",
            orders.decrease_order,
            auth=True,
            kind="write",
        ),
        # retired V1 writes
        r("POST", "/portfolio/orders", v1, auth=True, kind="write"),
        r("POST", "/portfolio/orders/batched", v1, auth=True, kind="write"),
        r("DELETE", "/portfolio/orders/batched", v1, auth=True, kind="write"),
        r("DELETE", "/portfolio/orders/{order_id}", v1, auth=True, kind="write"),
        r("POST", "/portfolio/orders/{order_id}/amend", v1, auth=True, kind="write"),
        r("POST", "/portfolio/orders/{order_id}/decrease", v1, auth=True, kind="write"),
        # issue #15: subaccounts
        *subaccount_routes(portfolio.exchange),
        # issue #15: combos and RFQs
        *rfq_routes(portfolio.exchange),
    ]
    # order groups and account limits (issue #15 items 1 and 7)
    groups = GroupHandlers(orders.exchange)
    table += [
        r("POST", "/portfolio/order_groups/create", groups.create_order_group, auth=True, kind="write"),
        r("GET", "/portfolio/order_groups", groups.get_order_groups, auth=True),
        r("GET", "/portfolio/order_groups/{order_group_id}", groups.get_order_group, auth=True),
        r(
            "DELETE",
            "/portfolio/order_groups/{order_group_id}",
            groups.delete_order_group,
            auth=True,
            kind="write",
        ),
        r(
            "PUT",
            "/portfolio/order_groups/{order_group_id}/reset",
            groups.reset_order_group,
            auth=True,
            kind="write",
        ),
        r(
            "PUT",
            "/portfolio/order_groups/{order_group_id}/trigger",
            groups.trigger_order_group,
            auth=True,
            kind="write",
        ),
        r(
            "PUT",
            "/portfolio/order_groups/{order_group_id}/limit",
            groups.update_order_group_limit,
            auth=True,
            kind="write",
        ),
        r("GET", "/exchange/user_data_timestamp", groups.get_user_data_timestamp, auth=True),
        r(
            "GET",
            "/portfolio/summary/total_resting_order_value",
            groups.get_total_resting_order_value,
            auth=True,
        ),
        r("GET", "/account/api_usage_level/volume_progress", groups.get_volume_progress, auth=True),
        r("GET", "/account/endpoint_costs", endpoint_costs_handler(lambda: table)),
    ]
    return table
