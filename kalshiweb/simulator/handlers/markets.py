"""Market data: markets, order books, trades, events, series and candlesticks (all public reads)."""

from __future__ import annotations

from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.api import Request, bad_request, not_found
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.parsing import paginate, rfc3339_to_ts, time_key

MARKET_STATUS_FILTER = {
    "unopened": {"initialized", "unopened"},
    "open": {"active", "open"},
    "paused": {"inactive", "paused"},
    "closed": {"closed", "determined", "disputed", "amended"},
    "settled": {"finalized", "settled"},
}


class MarketHandlers(EngineHandlers):
    def _markets_filtered(self, req: Request) -> list[str]:
        """Tickers (sorted) of the markets that match GET /markets' filters.

        Ticker, event, series and status are read from the engine's objects; a market is serialised here only
        when a time bound needs its wire timestamps, so a page costs the serialisation of that page alone."""
        status = req.q("status")
        if status and status not in MARKET_STATUS_FILTER:
            raise bad_request(f"status must be one of {', '.join(MARKET_STATUS_FILTER)}")
        tickers = set(req.q_list("tickers"))
        event_ticker = req.q("event_ticker")
        series_ticker = req.q("series_ticker")
        bounds = {
            name: req.q_int(name)
            for name in (
                "min_close_ts",
                "max_close_ts",
                "min_created_ts",
                "max_created_ts",
                "min_updated_ts",
                "max_updated_ts",
                "min_settled_ts",
                "max_settled_ts",
            )
        }
        bounded = any(v is not None for v in bounds.values())
        statuses = MARKET_STATUS_FILTER[status] if status else None
        markets = self.exchange.markets
        archived = self.exchange.history.market_archived
        out = []
        for ticker in sorted(markets):
            if tickers and ticker not in tickers:
                continue
            market = markets[ticker]
            if event_ticker and market.event_ticker != event_ticker:
                continue
            if series_ticker and self._series_of_event(market.event_ticker) != series_ticker:
                continue
            if statuses is not None and market.status not in statuses:
                continue
            if archived(market):  # settled before the cutoff: /historical/markets only
                continue
            if bounded and not self._in_bounds(self.market_json(ticker), bounds):
                continue
            out.append(ticker)
        return out

    @staticmethod
    def _in_bounds(m: dict[str, Any], bounds: dict[str, int | None]) -> bool:
        for field_name, lo_name, hi_name in (
            ("close_time", "min_close_ts", "max_close_ts"),
            ("created_time", "min_created_ts", "max_created_ts"),
            ("updated_time", "min_updated_ts", "max_updated_ts"),
            ("settlement_ts", "min_settled_ts", "max_settled_ts"),
        ):
            lo, hi = bounds[lo_name], bounds[hi_name]
            if lo is None and hi is None:
                continue
            ts = rfc3339_to_ts(m.get(field_name))
            if ts is None or (lo is not None and ts < lo) or (hi is not None and ts > hi):
                return False
        return True

    def _series_of_event(self, event_ticker: str) -> str | None:
        event = self.exchange.events.get(event_ticker)
        return getattr(event, "series_ticker", None) if event is not None else None

    def get_markets(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=0, hi=1000) or 100
        tickers = self._markets_filtered(req)
        page, cursor = paginate(tickers, lambda t: [t], limit, req.q("cursor"))
        return {"markets": [self.market_json(t) for t in page], "cursor": cursor}

    def _live_market(self, ticker: str) -> None:
        """404 for a market archived past the historical cutoff (served by /historical/markets/{ticker})."""
        if self.exchange.history.market_archived(self._market(ticker)):
            raise not_found(f"market {ticker} is archived: see /historical/markets/{ticker}")

    def get_market(self, req: Request) -> dict[str, Any]:
        self._live_market(req.params["ticker"])
        return {"market": self.market_json(req.params["ticker"])}

    def _orderbook_fp(self, ticker: str, depth: int) -> dict[str, Any]:
        yes, no = self.exchange.book(ticker)
        return wire.orderbook_fp_json(yes, no, depth)

    def get_orderbook(self, req: Request) -> dict[str, Any]:
        ticker = req.params["ticker"]
        self._market(ticker)
        depth = max(req.q_int("depth", 0, hi=100) or 0, 0)  # 0 or negative = every level
        return {"orderbook_fp": self._orderbook_fp(ticker, depth)}

    def get_orderbooks(self, req: Request) -> dict[str, Any]:
        tickers = req.q_list("tickers")
        if not tickers:
            raise bad_request("tickers is required")
        if len(tickers) > 100:
            raise bad_request("at most 100 tickers")
        for ticker in tickers:
            self._market(ticker)
        return {"orderbooks": [{"ticker": t, "orderbook_fp": self._orderbook_fp(t, 0)} for t in tickers]}

    def get_trades(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=0, hi=1000) or 100
        ticker = req.q("ticker")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        trades = []
        cutoff = self.exchange.history.cutoff()
        for trade in self.exchange.trades(ticker):
            if trade.created_time < cutoff:  # before the cutoff: /historical/trades
                continue
            t = wire.trade_json(trade)
            ts = rfc3339_to_ts(t.get("created_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            trades.append(t)
        page, cursor = paginate(
            trades,
            lambda t: time_key(t, "created_time", "trade_id"),
            limit,
            req.q("cursor"),
            descending=True,
        )
        return {"trades": page, "cursor": cursor}

    def _event_json(self, event_ticker: str, nested: bool) -> dict[str, Any]:
        data = wire.event_json(self.exchange.events[event_ticker])
        if nested:
            data["markets"] = self._event_markets(event_ticker)
        return data

    def _event_markets(self, event_ticker: str) -> list[dict[str, Any]]:
        return [
            self.market_json(t)
            for t in sorted(self.exchange.markets)
            if getattr(self.exchange.markets[t], "event_ticker", None) == event_ticker
        ]

    def get_events(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 200, lo=1, hi=200) or 200
        status = req.q("status")
        if status and status not in ("unopened", "open", "closed", "settled"):
            raise bad_request("status must be one of unopened, open, closed, settled")
        series_ticker = req.q("series_ticker")
        tickers = set(req.q_list("tickers"))
        nested = req.q_bool("with_nested_markets")
        events = []
        for event_ticker in sorted(self.exchange.events):
            if tickers and event_ticker not in tickers:
                continue
            if series_ticker and self._series_of_event(event_ticker) != series_ticker:
                continue
            if status:
                markets = self._event_markets(event_ticker)
                if not any(m.get("status") in MARKET_STATUS_FILTER[status] for m in markets):
                    continue
            events.append(self._event_json(event_ticker, nested))
        page, cursor = paginate(events, lambda e: [e["event_ticker"]], limit, req.q("cursor"))
        return {"events": page, "cursor": cursor}

    def get_event(self, req: Request) -> dict[str, Any]:
        event_ticker = req.params["event_ticker"]
        if event_ticker not in self.exchange.events:
            raise not_found(f"event {event_ticker} not found")
        nested = req.q_bool("with_nested_markets")
        return {"event": self._event_json(event_ticker, nested), "markets": self._event_markets(event_ticker)}

    def get_series_list(self, req: Request) -> dict[str, Any]:
        category = req.q("category")
        out = [wire.series_json(self.exchange.series[s]) for s in sorted(self.exchange.series)]
        if category:
            out = [s for s in out if s.get("category") == category]
        return {"series": out}

    def get_series(self, req: Request) -> dict[str, Any]:
        series = self.exchange.series.get(req.params["series_ticker"])
        if series is None:
            raise not_found(f"series {req.params['series_ticker']} not found")
        return {"series": wire.series_json(series)}

    def _candle_args(self, req: Request) -> tuple[int, int, int]:
        start = req.q_int("start_ts")
        end = req.q_int("end_ts")
        period = req.q_int("period_interval")
        if start is None or end is None or period is None:
            raise bad_request("start_ts, end_ts and period_interval are required")
        if period not in (1, 60, 1440):
            raise bad_request("period_interval must be 1, 60 or 1440")
        if end < start:
            raise bad_request("end_ts must not be before start_ts")
        return start, end, period

    def get_candlesticks(self, req: Request) -> dict[str, Any]:
        ticker = req.params["ticker"]
        self._live_market(ticker)
        start, end, period = self._candle_args(req)
        return {"ticker": ticker, "candlesticks": self.exchange.candlesticks(ticker, start, end, period)}

    def get_batch_candlesticks(self, req: Request) -> dict[str, Any]:
        tickers = req.q_list("market_tickers")
        if not tickers:
            raise bad_request("market_tickers is required")
        if len(tickers) > 100:
            raise bad_request("at most 100 market_tickers")
        start, end, period = self._candle_args(req)
        for ticker in tickers:
            self._live_market(ticker)
        return {
            "markets": [
                {"market_ticker": t, "candlesticks": self.exchange.candlesticks(t, start, end, period)}
                for t in tickers
            ]
        }
