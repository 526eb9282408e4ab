"""What every REST handler group shares: the engine, and lookups that answer 404 the way Kalshi does."""

from __future__ import annotations

from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.api import not_found
from kalshiweb.simulator.engine import Account, Exchange, Market, Order


class EngineHandlers:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def _market(self, ticker: str) -> Market:
        market = self.exchange.markets.get(ticker)
        if market is None:
            raise not_found(f"market {ticker} not found")
        return market

    def market_json(self, ticker: str) -> dict[str, Any]:
        return wire.market_json(self.exchange.markets[ticker])

    def _account(self, user_id: str) -> Account:
        return self.exchange.account(user_id)

    def _orders_newest_first(self, user_id: str) -> list[Order]:
        return list(reversed(self._account(user_id).orders.values()))

    def _own_order(self, user_id: str, order_id: str) -> Order:
        order = self._account(user_id).orders.get(order_id)
        if order is None:
            raise not_found(f"order {order_id} not found")
        return order
