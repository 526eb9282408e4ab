"""Portfolio reads: balance, positions, fills, settlements, orders, account limits and API keys."""

from __future__ import annotations

from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.api import Request, bad_request, not_found
from kalshiweb.simulator.auth import KeyRegistry
from kalshiweb.simulator.engine import Exchange
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.handlers.subacct import subaccount_filter, subaccount_param
from kalshiweb.simulator.parsing import paginate, rfc3339_to_ts, time_key
from kalshiweb.simulator.ratelimit import RateLimiter

ORDER_STATUSES = ("resting", "canceled", "executed")


class PortfolioHandlers(EngineHandlers):
    def __init__(self, exchange: Exchange, *, limiter: RateLimiter, registry: KeyRegistry) -> None:
        super().__init__(exchange)
        self.limiter = limiter
        self.registry = registry

    def get_balance(self, req: Request) -> dict[str, Any]:
        account = self.exchange.ledger.sub_account(req.user, subaccount_param(req))
        return wire.balance_json(account, self.exchange.now)

    def get_account_limits(self, req: Request) -> dict[str, Any]:
        return self.limiter.account_limits_json()

    def get_api_keys(self, req: Request) -> dict[str, Any]:
        keys = self.registry.of_user(req.user) if req.user else []
        return {
            "api_keys": [
                {"api_key_id": k.key_id, "name": k.name, "scopes": list(k.scopes)}
                for k in sorted(keys, key=lambda k: k.key_id)
            ]
        }

    def get_positions(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        account = self.exchange.ledger.sub_account(req.user, subaccount_param(req))
        ticker, event_ticker = req.q("ticker"), req.q("event_ticker")
        count_filter = req.q_list("count_filter")
        if any(c not in ("position", "total_traded") for c in count_filter):
            raise bad_request("count_filter accepts position and total_traded")
        settlement_status = req.q("settlement_status") or "unsettled"
        if settlement_status not in ("unsettled", "settled", "all"):
            raise bad_request("settlement_status must be unsettled, settled or all")
        positions = []
        history, all_events, markets = self.exchange.history, self.exchange.events, self.exchange.markets
        for position in account.positions.values():
            if history.position_archived(position, all_events, markets):  # /historical/positions
                continue
            if ticker and position.ticker != ticker:
                continue
            if event_ticker and position.event_ticker != event_ticker:
                continue
            if settlement_status == "unsettled" and position.settled:
                continue
            if settlement_status == "settled" and not position.settled:
                continue
            if count_filter:
                keep = ("position" in count_filter and position.position != 0) or (
                    "total_traded" in count_filter and position.total_traded != 0
                )
                if not keep:
                    continue
            positions.append(position)
        rows = [wire.market_position_json(p) for p in positions]
        page, cursor = paginate(rows, lambda p: [p["ticker"]], limit, req.q("cursor"))
        tickers = {p["ticker"] for p in page}
        shown = [p for p in positions if p.ticker in tickers]
        events = sorted({p.event_ticker for p in shown})
        return {
            "market_positions": page,
            "event_positions": [wire.event_position_json(e, shown) for e in events],
            "cursor": cursor,
        }

    def get_fills(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker, order_id = req.q("ticker"), req.q("order_id")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        rows = []
        cutoff = self.exchange.history.cutoff()
        sub = subaccount_filter(req)
        for fill in (f for a in self._member_accounts(req.user, sub) for f in a.fills):
            if fill.created_time < cutoff:  # before the cutoff: /historical/fills
                continue
            f = wire.fill_json(fill)
            if ticker and f["ticker"] != ticker:
                continue
            if order_id and f["order_id"] != order_id:
                continue
            ts = f.get("ts") or rfc3339_to_ts(f.get("created_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(f)
        page, cursor = paginate(
            rows, lambda f: time_key(f, "created_time", "fill_id"), limit, req.q("cursor"), descending=True
        )
        return {"fills": page, "cursor": cursor}

    def get_settlements(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker, event_ticker = req.q("ticker"), req.q("event_ticker")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        rows = []
        sub = subaccount_filter(req)
        for settlement in (s for a in self._member_accounts(req.user, sub) for s in a.settlements):
            s = wire.settlement_json(settlement)
            if ticker and s["ticker"] != ticker:
                continue
            if event_ticker and s["event_ticker"] != event_ticker:
                continue
            ts = rfc3339_to_ts(s.get("settled_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(s)
        page, cursor = paginate(
            rows, lambda s: time_key(s, "settled_time", "ticker"), limit, req.q("cursor"), descending=True
        )
        return {"settlements": page, "cursor": cursor}

    def get_orders(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker = req.q("ticker")
        event_tickers = set(req.q_list("event_ticker"))
        status = req.q("status")
        if status and status not in ORDER_STATUSES:
            raise bad_request("status must be resting, canceled or executed")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        rows = []
        archived = self.exchange.history.order_archived
        for order in self._orders_newest_first(req.user, subaccount_filter(req)):
            # Filters on the record first: the wire form of every order the account ever placed, for a list
            # of its few resting ones, grew with the account's history (the fault benchmark: thousands).
            if (ticker and order.ticker != ticker) or (status and order.status != status):
                continue
            if archived(order):  # done before the cutoff: /historical/orders
                continue
            if event_tickers and getattr(
                self.exchange.markets.get(order.ticker), "event_ticker", None
            ) not in (event_tickers):
                continue
            o = wire.order_json(order)
            ts = rfc3339_to_ts(o.get("created_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(o)
        page, cursor = paginate(
            rows, lambda o: time_key(o, "created_time", "order_id"), limit, req.q("cursor"), descending=True
        )
        return {"orders": page, "cursor": cursor}

    def get_order(self, req: Request) -> dict[str, Any]:
        order = self._own_order(req.user, req.params["order_id"])
        if self.exchange.history.order_archived(order):  # done before the cutoff: /historical/orders
            raise not_found(f"order {order.order_id} is archived: see /historical/orders")
        return {"order": wire.order_json(order)}
