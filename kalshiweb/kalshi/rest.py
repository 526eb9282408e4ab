"""Async REST client (protocol §6): Kalshi's endpoints, each a method of `KalshiClient`, over the transport of
`transport.RestTransport` (one pooled ``httpx.AsyncClient``).

Retry policy, in one place (``RestTransport._request``):

* GET: 429, 5xx, timeouts and connection errors are retried with exponential backoff and full jitter, up to
  ``max_attempts``; then the error is raised.
* Writes (POST/DELETE/PUT) are **never** resent blindly. A 429 raises ``RateLimited(retryable=True)`` unless
  the caller passed ``retry_on_429=True`` (safe: a 429 means the exchange did not act). A connection that
  failed before anything was sent raises ``ExchangeUnavailable``. Anything after sending — a timeout, a reset,
  a 5xx — raises ``OutcomeUnknown`` carrying the ``client_order_id``; reconcile with ``find_order``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from .discovery import DiscoveryEndpoints
from .errors import (
    Conflict,
    KalshiError,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
)
from .groups import OrderGroupsMixin
from .models import (
    AccountLimits,
    AmendOrderResult,
    Balance,
    BatchCancelItem,
    BatchCreateItem,
    CancelOrderResult,
    Candlestick,
    CreateOrderResult,
    DecreaseOrderResult,
    Event,
    ExchangeStatus,
    Market,
    Order,
    Orderbook,
    OrderRequest,
    Page,
    PortfolioFill,
    Positions,
    PublicTrade,
    Series,
    Settlement,
    page_of,
)
from .ratelimit import (
    BATCH_CANCEL_COST_PER_ITEM,
    BATCH_CREATE_COST_PER_ITEM,
)
from .rest_history import HistoryEndpoints  # issue #15 history
from .rfq import RfqMixin  # issue #15: combos and RFQs
from .subaccounts import SubaccountsMixin  # issue #15: subaccounts
from .transport import (
    DEMO,
    PRODUCTION,
    KalshiEnvironment,
    RestTransport,
    _csv,
    make_signer,
    response_observers,
)
from .types.scalars import format_count, format_price

log = logging.getLogger(__name__)

__all__ = [
    "DEMO",
    "PRODUCTION",
    "KalshiClient",
    "KalshiEnvironment",
    "book_order",
    "make_signer",
    "response_observers",
]


def book_order(outcome: str, action: str, price: Decimal) -> tuple[str, Decimal]:
    """Map a trader's (outcome, action, price in that outcome's leg) to the V2 (side, YES price) (§5.2)."""
    if outcome == "yes":
        return ("bid" if action == "buy" else "ask"), price
    if outcome == "no":
        return ("ask" if action == "buy" else "bid"), Decimal(1) - price
    raise ValueError(f"outcome must be 'yes' or 'no', got {outcome!r}")


class KalshiClient(  # issue #15 mixins, one module each
    HistoryEndpoints, SubaccountsMixin, RfqMixin, OrderGroupsMixin, DiscoveryEndpoints, RestTransport
):
    """Async Kalshi REST client. Build one per process and reuse it (it owns a connection pool).

    ``KalshiClient(rest_base, key_id=..., private_key=pem_text_or_path)``; the same code path serves the
    simulator, demo and production — only ``rest_base`` and the key differ.
    """

    # --- exchange & market data ---------------------------------------------------------------------------

    async def get_exchange_status(self) -> ExchangeStatus:
        return ExchangeStatus.from_dict(await self._get("/exchange/status"))

    @staticmethod
    def _market_params(**kw: Any) -> dict[str, Any]:
        kw["tickers"] = _csv(kw.get("tickers"))
        return kw

    async def get_markets(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        tickers: Sequence[str] | str | None = None,
        **filters: Any,
    ) -> Page[Market]:
        params = self._market_params(
            limit=limit,
            cursor=cursor,
            event_ticker=event_ticker,
            series_ticker=series_ticker,
            status=status,
            tickers=tickers,
            **filters,
        )
        return page_of("GetMarketsResponse", "markets", await self._get("/markets", params), Market.from_dict)

    def iter_markets(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        tickers: Sequence[str] | str | None = None,
        page_size: int = 1000,
        **filters: Any,
    ) -> AsyncIterator[Market]:
        """Every market matching the filters, across all pages."""
        params = self._market_params(
            limit=page_size,
            event_ticker=event_ticker,
            series_ticker=series_ticker,
            status=status,
            tickers=tickers,
            **filters,
        )
        return self._paginate("/markets", "markets", Market.from_dict, params, "GetMarketsResponse")

    async def get_market(self, ticker: str) -> Market:
        data = await self._get(f"/markets/{ticker}")
        return Market.from_dict(_field("GetMarketResponse", data, "market"))

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> Orderbook:
        data = await self._get(f"/markets/{ticker}/orderbook", {"depth": depth})
        return Orderbook.from_response(ticker, data)

    async def get_orderbooks(self, tickers: Sequence[str]) -> list[Orderbook]:
        data = await self._get("/markets/orderbooks", {"tickers": list(tickers)})
        o = "GetMarketOrderbooksResponse"
        books = _field(o, data, "orderbooks")
        if not isinstance(books, list):
            raise ProtocolError(f"{o}.orderbooks must be a list", obj=o, field="orderbooks")
        out = []
        for item in books:
            name = "MarketOrderbookFp"
            if not isinstance(item, Mapping):
                raise ProtocolError(f"{name} must be an object", obj=name)
            ticker = _field(name, item, "ticker")
            out.append(
                Orderbook.from_book_fp(ticker, _field(name, item, "orderbook_fp"), f"{name}.orderbook_fp")
            )
        return out

    async def get_trades(
        self,
        *,
        ticker: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
    ) -> Page[PublicTrade]:
        params = {"ticker": ticker, "limit": limit, "cursor": cursor, "min_ts": min_ts, "max_ts": max_ts}
        return page_of(
            "GetTradesResponse", "trades", await self._get("/markets/trades", params), PublicTrade.from_dict
        )

    def iter_trades(
        self, *, ticker: str | None = None, page_size: int = 1000, **filters: Any
    ) -> AsyncIterator[PublicTrade]:
        params = {"ticker": ticker, "limit": page_size, **filters}
        return self._paginate("/markets/trades", "trades", PublicTrade.from_dict, params, "GetTradesResponse")

    async def get_events(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        series_ticker: str | None = None,
        with_nested_markets: bool | None = None,
        **filters: Any,
    ) -> Page[Event]:
        params = {
            "limit": limit,
            "cursor": cursor,
            "status": status,
            "series_ticker": series_ticker,
            "with_nested_markets": with_nested_markets,
            **filters,
        }
        return page_of("GetEventsResponse", "events", await self._get("/events", params), Event.from_dict)

    def iter_events(self, *, page_size: int = 200, **filters: Any) -> AsyncIterator[Event]:
        return self._paginate(
            "/events", "events", Event.from_dict, {"limit": page_size, **filters}, "GetEventsResponse"
        )

    async def get_event(
        self, event_ticker: str, *, with_nested_markets: bool | None = None
    ) -> tuple[Event, list[Market]]:
        """The event and its markets (from ``event.markets`` when nested, else the top-level ``markets``)."""
        o = "GetEventResponse"
        data = await self._get(f"/events/{event_ticker}", {"with_nested_markets": with_nested_markets})
        event = Event.from_dict(_field(o, data, "event"))
        if event.markets:
            return event, list(event.markets)
        markets = data.get("markets") or []
        if not isinstance(markets, list):
            raise ProtocolError(f"{o}.markets must be a list", obj=o, field="markets")
        return event, [Market.from_dict(m) for m in markets]

    async def get_series(self, series_ticker: str) -> Series:
        data = await self._get(f"/series/{series_ticker}")
        return Series.from_dict(_field("GetSeriesResponse", data, "series"))

    async def get_series_list(self, **filters: Any) -> list[Series]:
        data = await self._get("/series", filters)
        items = _field("GetSeriesListResponse", data, "series") or []
        return [Series.from_dict(s) for s in items]

    async def get_candlesticks(
        self,
        series_ticker: str,
        ticker: str,
        *,
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 60,
    ) -> list[Candlestick]:
        o = "GetMarketCandlesticksResponse"
        data = await self._get(
            f"/series/{series_ticker}/markets/{ticker}/candlesticks",
            {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval},
        )
        items = _field(o, data, "candlesticks")
        if not isinstance(items, list):
            raise ProtocolError(f"{o}.candlesticks must be a list", obj=o, field="candlesticks")
        return [Candlestick.from_dict(c) for c in items]

    # --- portfolio reads ----------------------------------------------------------------------------------

    async def get_balance(self, *, subaccount: int | None = None) -> Balance:
        return Balance.from_dict(
            await self._get("/portfolio/balance", {"subaccount": subaccount}, signed=True)
        )

    async def get_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        settlement_status: str | None = None,
        count_filter: str | None = None,
        subaccount: int | None = None,
    ) -> Positions:
        params = {
            "ticker": ticker,
            "event_ticker": event_ticker,
            "limit": limit,
            "cursor": cursor,
            "settlement_status": settlement_status,
            "count_filter": count_filter,
            "subaccount": subaccount,
        }
        return Positions.from_dict(await self._get("/portfolio/positions", params, signed=True))

    async def get_fills(
        self,
        *,
        ticker: str | None = None,
        order_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
        subaccount: int | None = None,
    ) -> Page[PortfolioFill]:
        params = {
            "ticker": ticker,
            "order_id": order_id,
            "limit": limit,
            "cursor": cursor,
            "min_ts": min_ts,
            "max_ts": max_ts,
            "subaccount": subaccount,
        }
        data = await self._get("/portfolio/fills", params, signed=True)
        return page_of("GetFillsResponse", "fills", data, PortfolioFill.from_dict)

    def iter_fills(self, *, page_size: int = 1000, **filters: Any) -> AsyncIterator[PortfolioFill]:
        return self._paginate(
            "/portfolio/fills",
            "fills",
            PortfolioFill.from_dict,
            {"limit": page_size, **filters},
            "GetFillsResponse",
            signed=True,
        )

    async def get_settlements(
        self, *, limit: int | None = None, cursor: str | None = None, **filters: Any
    ) -> Page[Settlement]:
        data = await self._get(
            "/portfolio/settlements", {"limit": limit, "cursor": cursor, **filters}, signed=True
        )
        return page_of(
            "GetSettlementsResponse", "settlements", data, Settlement.from_dict, cursor_required=False
        )

    def iter_settlements(self, *, page_size: int = 1000, **filters: Any) -> AsyncIterator[Settlement]:
        return self._paginate(
            "/portfolio/settlements",
            "settlements",
            Settlement.from_dict,
            {"limit": page_size, **filters},
            "GetSettlementsResponse",
            signed=True,
            cursor_required=False,
        )

    async def get_orders(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        subaccount: int | None = None,
        **filters: Any,
    ) -> Page[Order]:
        params = {
            "ticker": ticker,
            "event_ticker": event_ticker,
            "status": status,
            "limit": limit,
            "cursor": cursor,
            "subaccount": subaccount,
            **filters,
        }
        data = await self._get("/portfolio/orders", params, signed=True)
        return page_of("GetOrdersResponse", "orders", data, Order.from_dict)

    def iter_orders(self, *, page_size: int = 1000, **filters: Any) -> AsyncGenerator[Order]:
        return self._paginate(
            "/portfolio/orders",
            "orders",
            Order.from_dict,
            {"limit": page_size, **filters},
            "GetOrdersResponse",
            signed=True,
        )

    async def get_order(self, order_id: str) -> Order:
        data = await self._get(f"/portfolio/orders/{order_id}", signed=True)
        return Order.from_dict(_field("GetOrderResponse", data, "order"))

    async def find_order(
        self, *, client_order_id: str, ticker: str | None = None, include_historical: bool = False
    ) -> Order | None:
        """Reconcile a write whose outcome is unknown: the order with this ``client_order_id``, or None.

        Lists ``/portfolio/orders`` (filtered by ticker when given) and matches ``client_order_id``. With
        ``include_historical``, an order not found there is looked for in ``/historical/orders`` too: one that
        was canceled or executed before Kalshi's historical cutoff is listed only there (an exchange without
        historical data answers 404 there, taken as not found)."""
        async with contextlib.aclosing(self.iter_orders(ticker=ticker)) as orders:
            async for order in orders:
                if order.client_order_id == client_order_id:
                    return order
        if not include_historical:
            return None
        try:
            async with contextlib.aclosing(self.iter_historical_orders(ticker=ticker)) as orders:
                async for order in orders:
                    if order.client_order_id == client_order_id:
                        return order
        except NotFound:
            return None
        return None

    async def get_account_limits(self) -> AccountLimits:
        return AccountLimits.from_dict(await self._get("/account/limits", signed=True))

    # --- order writes (V2) --------------------------------------------------------------------------------

    async def create_order(
        self,
        ticker: str,
        side: str,
        count: Decimal | int,
        price: Decimal,
        *,
        client_order_id: str | None = None,
        time_in_force: str = "good_till_canceled",
        self_trade_prevention_type: str = "taker_at_cross",
        expiration_time: int | None = None,
        post_only: bool | None = None,
        reduce_only: bool | None = None,
        cancel_order_on_pause: bool | None = None,
        order_group_id: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        retry_on_429: bool = False,
    ) -> CreateOrderResult:
        """Place a V2 order. ``side`` is the YES-leg book side (``bid`` buys YES, ``ask`` sells YES; see
        ``book_order``), ``price`` the YES price. A uuid4 ``client_order_id`` is generated when none is given.

        Raises ``OutcomeUnknown`` (with ``client_order_id``) when the response is lost, ``Conflict`` when an
        order with this ``client_order_id`` already exists."""
        request = OrderRequest(
            ticker=ticker,
            side=side,
            count=Decimal(count),
            price=price,
            client_order_id=client_order_id or str(uuid.uuid4()),
            time_in_force=time_in_force,
            self_trade_prevention_type=self_trade_prevention_type,
            expiration_time=expiration_time,
            post_only=post_only,
            reduce_only=reduce_only,
            cancel_order_on_pause=cancel_order_on_pause,
            order_group_id=order_group_id,
            subaccount=subaccount,
            exchange_index=exchange_index,
        )
        return await self.submit_order(request, retry_on_429=retry_on_429)

    async def submit_order(self, request: OrderRequest, *, retry_on_429: bool = False) -> CreateOrderResult:
        if not request.client_order_id:
            raise ValueError("an OrderRequest needs a client_order_id (it is the idempotency key)")
        data = await self._request(
            "POST",
            "/portfolio/events/orders",
            body=request.to_json(),
            retry_on_429=retry_on_429,
            client_order_id=request.client_order_id,
        )
        result = CreateOrderResult.from_dict(data or {})
        if result.client_order_id is None:
            result = _replace(result, client_order_id=request.client_order_id)
        return result

    async def cancel_order(
        self,
        order_id: str,
        *,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        market_ticker: str | None = None,
        retry_on_429: bool = False,
    ) -> CancelOrderResult:
        params = {"subaccount": subaccount, "exchange_index": exchange_index, "market_ticker": market_ticker}
        data = await self._request(
            "DELETE", f"/portfolio/events/orders/{order_id}", params=params, retry_on_429=retry_on_429
        )
        return CancelOrderResult.from_dict(data or {})

    async def amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        side: str,
        price: Decimal,
        count: Decimal | int,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        expiration_time: int | None = None,
        subaccount: int | None = None,
        retry_on_429: bool = False,
    ) -> AmendOrderResult:
        """``count`` is the new total fillable size (already filled + desired remaining)."""
        body: dict[str, Any] = {
            "ticker": ticker,
            "side": side,
            "price": format_price(price),
            "count": format_count(count),
        }
        for key, value in (
            ("client_order_id", client_order_id),
            ("updated_client_order_id", updated_client_order_id),
            ("expiration_time", expiration_time),
        ):
            if value is not None:
                body[key] = value
        data = await self._request(
            "POST",
            f"/portfolio/events/orders/{order_id}/amend",
            params={"subaccount": subaccount},
            body=body,
            retry_on_429=retry_on_429,
        )
        return AmendOrderResult.from_dict(data or {})

    async def decrease_order(
        self,
        order_id: str,
        *,
        reduce_by: Decimal | int | None = None,
        reduce_to: Decimal | int | None = None,
        subaccount: int | None = None,
        retry_on_429: bool = False,
    ) -> DecreaseOrderResult:
        if (reduce_by is None) == (reduce_to is None):
            raise ValueError("give exactly one of reduce_by or reduce_to")
        if reduce_by is not None:
            body = {"reduce_by": format_count(reduce_by)}
        else:
            assert reduce_to is not None
            body = {"reduce_to": format_count(reduce_to)}
        data = await self._request(
            "POST",
            f"/portfolio/events/orders/{order_id}/decrease",
            params={"subaccount": subaccount},
            body=body,
            retry_on_429=retry_on_429,
        )
        return DecreaseOrderResult.from_dict(data or {})

    async def batch_create_orders(
        self, orders: Sequence[OrderRequest], *, retry_on_429: bool = False
    ) -> list[BatchCreateItem]:
        """Create several orders; each row carries its own result or error. A lost response raises
        ``OutcomeUnknown`` (its ``details`` lists every client_order_id to reconcile)."""
        if not orders:
            return []
        ids = [o.client_order_id for o in orders]
        if not all(ids):
            raise ValueError("every OrderRequest in a batch needs a client_order_id")
        try:
            data = await self._request(
                "POST",
                "/portfolio/events/orders/batched",
                body={"orders": [o.to_json() for o in orders]},
                cost=BATCH_CREATE_COST_PER_ITEM * len(orders),
                retry_on_429=retry_on_429,
            )
        except OutcomeUnknown as exc:
            exc.details = {"client_order_ids": ids}
            raise
        items = _field("BatchCreateOrdersV2Response", data, "orders")
        return [BatchCreateItem.from_dict(x) for x in items]

    async def batch_cancel_orders(
        self, order_ids: Sequence[str], *, subaccount: int | None = None, retry_on_429: bool = False
    ) -> list[BatchCancelItem]:
        if not order_ids:
            return []
        # issue #15, subaccounts: each item names the subaccount its order is in (default: the primary)
        extra = {} if subaccount is None else {"subaccount": subaccount}
        data = await self._request(
            "DELETE",
            "/portfolio/events/orders/batched",
            body={"orders": [{"order_id": oid, **extra} for oid in order_ids]},
            cost=BATCH_CANCEL_COST_PER_ITEM * len(order_ids),
            retry_on_429=retry_on_429,
        )
        items = _field("BatchCancelOrdersV2Response", data, "orders")
        return [BatchCancelItem.from_dict(x) for x in items]

    async def cancel_all_orders(self, *, subaccount: int | None = None, retry_on_429: bool = False) -> None:
        await self._request(
            "DELETE", "/portfolio/events/orders", params={"subaccount": subaccount}, retry_on_429=retry_on_429
        )


def _field(obj: str, data: Any, key: str) -> Any:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{obj} must be a JSON object", obj=obj)
    if key not in data:
        raise ProtocolError(f"{obj} is missing required field {key!r}", obj=obj, field=key)
    return data[key]


def _replace(result: CreateOrderResult, **changes: Any) -> CreateOrderResult:
    return msgspec.structs.replace(result, **changes)


__all__ = [
    "DEMO",
    "PRODUCTION",
    "Conflict",
    "KalshiClient",
    "KalshiEnvironment",
    "KalshiError",
    "OutcomeUnknown",
    "RateLimited",
    "book_order",
]
