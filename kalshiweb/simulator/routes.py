"""The REST route table: method, path, handler, auth, read/write bucket and rate-limit cost."""

from __future__ import annotations

import json
from collections.abc import Callable

from kalshiweb.simulator.api import Request, Response, Route, route
from kalshiweb.simulator.handlers.breadth import BreadthHandlers
from kalshiweb.simulator.handlers.exchange import ExchangeHandlers
from kalshiweb.simulator.handlers.markets import MarketHandlers
from kalshiweb.simulator.handlers.orders import OrderHandlers
from kalshiweb.simulator.handlers.portfolio import PortfolioHandlers
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
    # issue #15 breadth (fees, discovery, live data, API keys): first, so /events/fee_changes and
    # /events/multivariate are not taken for /events/{event_ticker}
    breadth_routes = breadth.routes() if breadth is not None else []
    return [
        *breadth_routes,
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
    ]
