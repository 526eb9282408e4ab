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

    def _member_accounts(self, user_id: str, subaccount: int | None = None) -> list[Account]:
        """The member's accounts: all of them (subaccount None) or the one numbered `subaccount`."""
        if subaccount is None:
            return self.exchange.ledger.member_accounts(user_id)
        return [self.exchange.ledger.sub_account(user_id, subaccount)]

    def _orders_newest_first(self, user_id: str, subaccount: int | None = None) -> list[Order]:
        accounts = self._member_accounts(user_id, subaccount)
        orders = [o for a in accounts for o in reversed(a.orders.values())]
        if len(accounts) == 1:
            return orders
        return sorted(orders, key=lambda o: o.created_time, reverse=True)  # stable: ties stay newest first

    def _own_order(self, user_id: str, order_id: str) -> Order:
        order = self.exchange.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise not_found(f"order {order_id} not found")
        return order
