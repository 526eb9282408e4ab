"""Kalshi's historical data, queue positions and cash history (issue #15: history), as a mixin of
``KalshiClient`` (rest.py lists it among its bases).

Reads only: every call goes through the transport's token bucket and retry policy like any GET.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from .errors import ProtocolError
from .models import Candlestick, Market, Order, Page, PortfolioFill, Positions, PublicTrade, page_of
from .transport import RestTransport, _csv
from .types.history import CashTransfer, HistoricalCandlestick, HistoricalCutoff, QueuePosition


def _items(obj: str, data: Any, key: str) -> list[Any]:
    if not isinstance(data, Mapping) or key not in data:
        raise ProtocolError(f"{obj} is missing required field {key!r}", obj=obj, field=key)
    items = data[key]
    if items is None:
        return []
    if not isinstance(items, list):
        raise ProtocolError(f"{obj}.{key} must be a list", obj=obj, field=key)
    return items


class HistoryEndpoints(RestTransport):
    # --- historical data ----------------------------------------------------------------------------------

    async def get_historical_cutoff(self) -> HistoricalCutoff:
        return HistoricalCutoff.from_dict(await self._get("/historical/cutoff"))

    async def get_historical_markets(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        tickers: Sequence[str] | str | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
    ) -> Page[Market]:
        params = {
            "limit": limit,
            "cursor": cursor,
            "tickers": _csv(tickers),
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
        }
        data = await self._get("/historical/markets", params)
        return page_of("GetMarketsResponse", "markets", data, Market.from_dict)

    async def get_historical_market(self, ticker: str) -> Market:
        data = await self._get(f"/historical/markets/{ticker}")
        return Market.from_dict(_items_or_object("GetMarketResponse", data, "market"))

    async def get_historical_candlesticks(
        self,
        ticker: str,
        *,
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 60,
    ) -> list[Candlestick]:
        """An archived market's candles, in the live ``Candlestick`` shape (see ``as_candlestick``)."""
        data = await self._get(
            f"/historical/markets/{ticker}/candlesticks",
            {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval},
        )
        items = _items("GetMarketCandlesticksHistoricalResponse", data, "candlesticks")
        return [HistoricalCandlestick.from_dict(c).as_candlestick() for c in items]

    async def get_historical_trades(
        self,
        *,
        ticker: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
    ) -> Page[PublicTrade]:
        params = {"ticker": ticker, "limit": limit, "cursor": cursor, "min_ts": min_ts, "max_ts": max_ts}
        data = await self._get("/historical/trades", params)
        return page_of("GetTradesResponse", "trades", data, PublicTrade.from_dict)

    async def get_historical_fills(
        self,
        *,
        ticker: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[PortfolioFill]:
        """``min_ts`` is in Kalshi's SDK 3.34 (not in the 3.28 spec): callers must not rely on it alone."""
        params = {"ticker": ticker, "min_ts": min_ts, "max_ts": max_ts, "limit": limit, "cursor": cursor}
        data = await self._get("/historical/fills", params, signed=True)
        return page_of("GetFillsResponse", "fills", data, PortfolioFill.from_dict)

    def iter_historical_fills(self, *, page_size: int = 1000, **filters: Any) -> AsyncIterator[PortfolioFill]:
        """Every fill before the cutoff, newest first, across all pages."""
        return self._paginate(
            "/historical/fills",
            "fills",
            PortfolioFill.from_dict,
            {"limit": page_size, **filters},
            "GetFillsResponse",
            signed=True,
        )

    async def get_historical_orders(
        self,
        *,
        ticker: str | None = None,
        max_ts: int | datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Order]:
        params = {"ticker": ticker, "max_ts": max_ts, "limit": limit, "cursor": cursor}
        data = await self._get("/historical/orders", params, signed=True)
        return page_of("GetOrdersResponse", "orders", data, Order.from_dict)

    def iter_historical_orders(self, *, page_size: int = 1000, **filters: Any) -> AsyncGenerator[Order]:
        return self._paginate(
            "/historical/orders",
            "orders",
            Order.from_dict,
            {"limit": page_size, **filters},
            "GetOrdersResponse",
            signed=True,
        )

    async def get_historical_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Positions:
        params = {"ticker": ticker, "event_ticker": event_ticker, "limit": limit, "cursor": cursor}
        return Positions.from_dict(await self._get("/historical/positions", params, signed=True))

    # --- queue positions ----------------------------------------------------------------------------------

    async def get_queue_position(self, order_id: str) -> Decimal:
        """Contracts resting ahead of this order at its price."""
        data = await self._get(f"/portfolio/orders/{order_id}/queue_position", signed=True)
        return QueuePosition.from_dict(
            {"order_id": order_id, "market_ticker": "", **_mapping("GetOrderQueuePositionResponse", data)}
        ).queue_position

    async def get_queue_positions(
        self,
        *,
        market_tickers: Sequence[str] | str | None = None,
        event_ticker: str | None = None,
        subaccount: int | None = None,
    ) -> list[QueuePosition]:
        """Every resting order's queue position in one call (filtered by markets or event)."""
        params = {
            "market_tickers": _csv(market_tickers),
            "event_ticker": event_ticker,
            "subaccount": subaccount,
        }
        data = await self._get("/portfolio/orders/queue_positions", params, signed=True)
        return [
            QueuePosition.from_dict(x)
            for x in _items("GetOrderQueuePositionsResponse", data, "queue_positions")
        ]

    # --- cash history -------------------------------------------------------------------------------------

    async def get_deposits(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[CashTransfer]:
        data = await self._get("/portfolio/deposits", {"limit": limit, "cursor": cursor}, signed=True)
        return page_of("GetDepositsResponse", "deposits", data, CashTransfer.from_dict, cursor_required=False)

    async def get_withdrawals(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[CashTransfer]:
        data = await self._get("/portfolio/withdrawals", {"limit": limit, "cursor": cursor}, signed=True)
        return page_of(
            "GetWithdrawalsResponse",
            "withdrawals",
            data,
            lambda x: CashTransfer.from_dict(x, "Withdrawal"),
            cursor_required=False,
        )


def _mapping(obj: str, data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{obj} must be a JSON object", obj=obj)
    return data


def _items_or_object(obj: str, data: Any, key: str) -> Any:
    data = _mapping(obj, data)
    if key not in data:
        raise ProtocolError(f"{obj} is missing required field {key!r}", obj=obj, field=key)
    return data[key]
