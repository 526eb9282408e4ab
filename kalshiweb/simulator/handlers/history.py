"""Historical data (/historical/*), queue positions and cash history (issue #15: history).

The live endpoints (markets.py, portfolio.py) leave out what `History` says is past the cutoff; these serve
exactly that part, so every record is on one side only. Historical reads sort newest first, like the live
ones, with the same keyset cursors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.api import ApiError, Request, bad_request, not_found
from kalshiweb.simulator.cash import Transfer
from kalshiweb.simulator.engine import ExchangeError, Market
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.parsing import paginate, rfc3339_to_ts, time_key
from kalshiweb.simulator.queue import queue_position

_OHLC = ("open", "low", "high", "close")
_PRICE = ("open", "low", "high", "close", "mean", "previous")


def historical_candle(c: dict[str, Any]) -> dict[str, Any]:
    """A live MarketCandlestick as MarketCandlestickHistorical (plain field names).

    The spec describes the price fields as null when the period had no trade, but declares them as
    `allOf: [FixedPointDollars]` + `nullable`, which OpenAPI 3.0.3 does not make nullable (and the
    conformance check holds us to the schema). So a period without trades carries the previous trade's price
    in every price field ("0.0000" before the first trade); `volume` "0.00" tells such a period apart."""
    price = c.get("price", {})
    carried = price.get("previous_dollars") or "0.0000"
    return {
        "end_period_ts": c["end_period_ts"],
        "yes_bid": {k: c["yes_bid"][f"{k}_dollars"] for k in _OHLC},
        "yes_ask": {k: c["yes_ask"][f"{k}_dollars"] for k in _OHLC},
        "price": {k: price.get(f"{k}_dollars") or carried for k in _PRICE},
        "volume": c["volume_fp"],
        "open_interest": c["open_interest_fp"],
    }


def transfer_json(t: Transfer) -> dict[str, Any]:
    return {
        "id": t.id,
        "status": t.status,
        "type": t.type,
        "amount_cents": wire.cents(t.amount),
        "fee_cents": wire.cents(t.fee),
        "created_ts": int(t.created.timestamp()),
        "finalized_ts": int(t.finalized.timestamp()) if t.finalized else None,
    }


class HistoryHandlers(EngineHandlers):
    @property
    def history(self) -> Any:
        return self.exchange.history

    def _archived_market(self, ticker: str) -> Market:
        market = self.exchange.markets.get(ticker)
        if market is None or not self.history.market_archived(market):
            raise not_found(f"market {ticker} not found in the historical data")
        return market

    # ------------------------------------------------------------------ cutoff

    def get_cutoff(self, req: Request) -> dict[str, Any]:
        cutoff = wire.rfc3339(self.history.cutoff())
        return {
            "market_settled_ts": cutoff,
            "trades_created_ts": cutoff,
            "orders_updated_ts": cutoff,
            "market_positions_last_updated_ts": cutoff,
        }

    # ------------------------------------------------------------------ markets

    def get_markets(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=0, hi=1000) or 100
        tickers = set(req.q_list("tickers"))
        event_ticker, series_ticker = req.q("event_ticker"), req.q("series_ticker")
        if sum(bool(x) for x in (tickers, event_ticker, series_ticker)) > 1:
            raise bad_request("tickers, event_ticker and series_ticker are mutually exclusive")
        mve = req.q("mve_filter")
        if mve not in (None, "", "exclude"):
            raise bad_request("mve_filter accepts only exclude")
        events = self.exchange.events
        out = []
        for ticker, market in self.exchange.markets.items():
            if tickers and ticker not in tickers:
                continue
            if event_ticker and market.event_ticker != event_ticker:
                continue
            if series_ticker:
                event = events.get(market.event_ticker)
                if event is None or event.series_ticker != series_ticker:
                    continue
            if self.history.market_archived(market):
                out.append(ticker)
        page, cursor = paginate(out, lambda t: [t], limit, req.q("cursor"))
        return {"markets": [self.market_json(t) for t in page], "cursor": cursor}

    def get_market(self, req: Request) -> dict[str, Any]:
        ticker = req.params["ticker"]
        self._archived_market(ticker)
        return {"market": self.market_json(ticker)}

    def get_candlesticks(self, req: Request) -> dict[str, Any]:
        ticker = req.params["ticker"]
        start, end, period = req.q_int("start_ts"), req.q_int("end_ts"), req.q_int("period_interval")
        if start is None or end is None or period is None:
            raise bad_request("start_ts, end_ts and period_interval are required")
        self._archived_market(ticker)
        try:
            candles = self.exchange.candlesticks(ticker, start, end, period)
        except ExchangeError as exc:
            raise ApiError(exc.http_status, exc.code, exc.message, exc.details) from None
        return {"ticker": ticker, "candlesticks": [historical_candle(c) for c in candles]}

    # ------------------------------------------------------------------ trades, fills, orders

    def get_trades(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=0, hi=1000) or 100
        ticker = req.q("ticker")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        block = req.q("is_block_trade")
        want_block = None if block in (None, "") else req.q_bool("is_block_trade")
        if ticker and ticker not in self.exchange.markets:
            raise not_found(f"market {ticker} not found")
        rows = []
        for trade in self.exchange.trades(ticker):
            if not self.history.trade_archived(trade):
                continue
            if want_block is not None and trade.is_block_trade != want_block:
                continue
            ts = int(trade.created_time.timestamp())
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(wire.trade_json(trade))
        page, cursor = paginate(
            rows, lambda t: time_key(t, "created_time", "trade_id"), limit, req.q("cursor"), descending=True
        )
        return {"trades": page, "cursor": cursor}

    def get_fills(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker, min_ts, max_ts = req.q("ticker"), req.q_int("min_ts"), req.q_int("max_ts")
        subaccount = req.q_int("subaccount", lo=0, hi=63)  # SDK 3.34; omitted = every subaccount
        rows = []
        for fill in self._account(req.user).fills:
            if not self.history.trade_archived(fill):
                continue
            if ticker and fill.ticker != ticker:
                continue
            if subaccount is not None and fill.subaccount != subaccount:
                continue
            ts = fill.created_time.timestamp()
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(wire.fill_json(fill))
        page, cursor = paginate(
            rows, lambda f: time_key(f, "created_time", "fill_id"), limit, req.q("cursor"), descending=True
        )
        return {"fills": page, "cursor": cursor}

    def get_orders(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker, min_ts, max_ts = req.q("ticker"), req.q_int("min_ts"), req.q_int("max_ts")
        subaccount = req.q_int("subaccount", lo=0, hi=63)  # SDK 3.34; omitted = every subaccount
        rows = []
        for order in self._orders_newest_first(req.user):
            if not self.history.order_archived(order):
                continue
            if ticker and order.ticker != ticker:
                continue
            if subaccount is not None and order.subaccount != subaccount:
                continue
            ts = order.created_time.timestamp()
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(wire.order_json(order))
        page, cursor = paginate(
            rows, lambda o: time_key(o, "created_time", "order_id"), limit, req.q("cursor"), descending=True
        )
        return {"orders": page, "cursor": cursor}

    def get_positions(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker, event_ticker = req.q("ticker"), req.q("event_ticker")
        events, markets = self.exchange.events, self.exchange.markets
        positions = [
            p
            for p in self._account(req.user).positions.values()
            if (not ticker or p.ticker == ticker)
            and (not event_ticker or p.event_ticker == event_ticker)
            and self.history.position_archived(p, events, markets)
        ]
        rows = [wire.market_position_json(p) for p in positions]
        page, cursor = paginate(rows, lambda p: [p["ticker"]], limit, req.q("cursor"))
        shown = {p["ticker"] for p in page}
        kept = [p for p in positions if p.ticker in shown]
        return {
            "market_positions": page,
            "event_positions": [
                wire.event_position_json(e, kept) for e in sorted({p.event_ticker for p in kept})
            ],
            "cursor": cursor,
        }

    # ------------------------------------------------------------------ queue positions

    def get_queue_position(self, req: Request) -> dict[str, Any]:
        order = self._own_order(req.user, req.params["order_id"])
        try:
            ahead = queue_position(self.exchange.markets[order.ticker], order)
        except ExchangeError as exc:
            raise ApiError(exc.http_status, exc.code, exc.message, exc.details) from None
        return {"queue_position_fp": wire.count_fp(ahead)}

    def get_queue_positions(self, req: Request) -> dict[str, Any]:
        tickers = set(req.q_list("market_tickers"))
        event_ticker = req.q("event_ticker")
        subaccount = req.q_int("subaccount", 0, lo=0, hi=63)
        rows = []
        account = self._account(req.user)
        for order in sorted(account.open_orders.values(), key=lambda o: (o.created_time, o.order_id)):
            market = self.exchange.markets.get(order.ticker)
            if market is None or order.subaccount != subaccount:
                continue
            if tickers and order.ticker not in tickers:
                continue
            if event_ticker and market.event_ticker != event_ticker:
                continue
            try:
                ahead = queue_position(market, order)
            except ExchangeError:
                continue  # left the book while we looked
            rows.append(
                {
                    "order_id": order.order_id,
                    "market_ticker": order.ticker,
                    "queue_position_fp": wire.count_fp(ahead),
                }
            )
        return {"queue_positions": rows}

    # ------------------------------------------------------------------ cash history

    def _transfers(self, req: Request, kind: str, key: str) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=500) or 100
        self._account(req.user)
        rows = [transfer_json(t) for t in self.exchange.cash.of(req.user, kind)]
        page, cursor = paginate(
            rows, lambda t: [t["created_ts"], t["id"]], limit, req.q("cursor"), descending=True
        )
        out: dict[str, Any] = {key: page}
        if cursor:
            out["cursor"] = cursor
        return out

    def get_deposits(self, req: Request) -> dict[str, Any]:
        return self._transfers(req, "deposit", "deposits")

    def get_withdrawals(self, req: Request) -> dict[str, Any]:
        return self._transfers(req, "withdrawal", "withdrawals")


def parse_when(value: Any) -> datetime:
    """A /_sim/ switch's time: Unix seconds or RFC 3339."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    ts = rfc3339_to_ts(value)
    if ts is None:
        try:
            return datetime.fromtimestamp(int(str(value)), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise bad_request("ts must be Unix seconds or an RFC 3339 time") from None
    return datetime.fromtimestamp(ts, UTC)


def history_switch(exchange: Any, registry: Any, path: str, arg: Any) -> dict[str, Any] | None:
    """The /_sim/ switches of this area, or None when `path` is not one of them.

    * POST /_sim/historical/cutoff {"ts": unix | rfc3339}: move the cutoff forward to ts (now if absent)
    * POST /_sim/cash/deposit | /_sim/cash/withdraw {"key_id" | "user_id", "amount": "12.50", "type": "ach"}
    """
    if path == "/_sim/historical/cutoff":
        when = parse_when(arg("ts")) if arg("ts") is not None else exchange.now
        exchange.history.pin(when)
        return {"cutoff": wire.rfc3339(exchange.history.cutoff())}
    if path in ("/_sim/cash/deposit", "/_sim/cash/withdraw"):
        user_id = arg("user_id")
        if user_id is None and arg("key_id") is not None:
            key = registry.get(str(arg("key_id"))) if registry is not None else None
            if key is None:
                raise not_found(f"key {arg('key_id')} not found")
            user_id = key.user_id
        if not user_id:
            raise bad_request("key_id or user_id is required")
        move = exchange.cash.deposit if path.endswith("deposit") else exchange.cash.withdraw
        try:
            transfer = move(str(user_id), arg("amount"), str(arg("type", "ach")))
        except ExchangeError as exc:
            raise ApiError(exc.http_status, exc.code, exc.message, exc.details) from None
        return transfer_json(transfer)
    return None
