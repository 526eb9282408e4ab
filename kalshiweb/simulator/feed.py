"""What the WebSocket hub asks of the exchange: which markets exist, and each engine event as a wire
message. The only place the WS side meets the engine's object model (ws.py sees it as `ws.HubApp`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.engine import Exchange
from kalshiweb.simulator.faults import Faults


class WsFeed:
    def __init__(self, exchange: Exchange, faults: Faults, now: Callable[[], datetime]) -> None:
        self.exchange = exchange
        self.faults = faults
        self.now = now

    def market_exists(self, ticker: str) -> bool:
        return ticker in self.exchange.markets

    def all_tickers(self) -> list[str]:
        return sorted(self.exchange.markets)

    def ticker_for_market_id(self, market_id: str) -> str | None:
        for ticker, market in self.exchange.markets.items():
            if str(getattr(market, "market_id", "")) == market_id:
                return ticker
        return None

    def market_json(self, ticker: str) -> dict[str, Any]:
        return wire.market_json(self.exchange.markets[ticker])

    def snapshot_msg(self, ticker: str, use_yes_price: bool) -> dict[str, Any]:
        yes, no = self.exchange.book(ticker)
        return wire.ws_orderbook_snapshot_msg(
            self.exchange.markets[ticker], yes, no, use_yes_price=use_yes_price
        )

    def delta_msg(self, event: Any, *, own: bool, use_yes_price: bool) -> dict[str, Any]:
        return wire.ws_orderbook_delta_msg(
            self.exchange.markets[event.ticker],
            event,
            self.now(),
            use_yes_price=use_yes_price,
            viewer_user_id=event.user_id if own else None,
        )

    def ticker_msg(self, ticker: str) -> dict[str, Any]:
        return wire.ws_ticker_msg(self.exchange.markets[ticker], self.now())

    def trade_ticker(self, trade: Any) -> str:
        return trade.ticker

    def trade_msg(self, trade: Any) -> dict[str, Any]:
        return wire.ws_trade_msg(trade)

    def lifecycle_msg(self, event: Any) -> dict[str, Any] | None:
        return wire.ws_market_lifecycle_msg(event)

    def private_event_ticker(self, event: Any) -> str:
        kind = type(event).__name__
        if kind == "FillEvent":
            return event.fill.ticker
        if kind == "OrderUpdate":
            return event.order.ticker
        return event.ticker

    def private_msg(self, event: Any) -> dict[str, Any]:
        kind = type(event).__name__
        if kind == "FillEvent":
            return wire.ws_fill_msg(event.fill, event.order)
        if kind == "OrderUpdate":
            return wire.ws_user_order_msg(event.order)
        sub = getattr(event, "subaccount", 0)
        position = self.exchange.position(event.user_id, event.ticker, sub)
        return wire.ws_market_position_msg(position, event.user_id, sub)

    def order_group_msg(self, event: Any) -> dict[str, Any]:  # order groups
        return wire.ws_order_group_msg(event, self.now())

    # -- exchange / market data -----------------------------------------------------------------------------
