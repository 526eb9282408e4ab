"""Order writes (V2): create, amend, decrease, cancel, their batched forms, and cancel-all."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.api import ApiError, Request, Response, bad_request
from kalshiweb.simulator.engine import ExchangeError, Order
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.handlers.subacct import check_order_subaccount, subaccount_param
from kalshiweb.simulator.parsing import fmt_count, fmt_dollars, opt_field, parse_count, parse_price, ts_ms

log = logging.getLogger("kalshiweb.simulator.server")

TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")
STP_TYPES = ("taker_at_cross", "maker")
MAX_UNIX_SECONDS = 253402300800  # year 10000


class OrderHandlers(EngineHandlers):
    def _create_args(self, data: dict[str, Any]) -> dict[str, Any]:
        ticker = data.get("ticker")
        if not isinstance(ticker, str) or not ticker:
            raise bad_request("ticker is required")
        side = data.get("side")
        if side not in ("bid", "ask"):
            raise bad_request("side must be bid or ask")
        if "count" not in data:
            raise bad_request("count is required")
        count = parse_count(data["count"])
        if "price" not in data:
            raise bad_request("price is required")
        price = parse_price(data["price"])
        tif = data.get("time_in_force")
        if tif not in TIME_IN_FORCE:
            raise bad_request(f"time_in_force must be one of {', '.join(TIME_IN_FORCE)}")
        stp = data.get("self_trade_prevention_type")
        if stp not in STP_TYPES:
            raise bad_request(f"self_trade_prevention_type must be one of {', '.join(STP_TYPES)}")
        expiration = opt_field(data, "expiration_time", int)
        if expiration is not None and not 0 < expiration < MAX_UNIX_SECONDS:
            raise bad_request("expiration_time must be a Unix timestamp in seconds")
        subaccount = opt_field(data, "subaccount", int) or 0
        if not 0 <= subaccount <= 63:
            raise bad_request("subaccount must be between 0 and 63")
        opt_field(data, "exchange_index", int)
        return {
            "ticker": ticker,
            "side": side,
            "count": count,
            "price": price,
            "time_in_force": tif,
            "self_trade_prevention_type": stp,
            "client_order_id": opt_field(data, "client_order_id", str),
            "expiration_time": expiration,
            "post_only": bool(opt_field(data, "post_only", bool)),
            "reduce_only": bool(opt_field(data, "reduce_only", bool)),
            "cancel_order_on_pause": bool(opt_field(data, "cancel_order_on_pause", bool)),
            "order_group_id": opt_field(data, "order_group_id", str),
            "subaccount": subaccount,
        }

    def _place(self, user_id: str, data: dict[str, Any]) -> dict[str, Any]:
        args = self._create_args(data)
        self._market(args["ticker"])
        coid = args["client_order_id"]
        if coid and self.exchange.find_order_by_client_id(user_id, coid) is not None:
            raise ApiError(
                409, "order_already_exists", "order with this client_order_id already exists", coid
            )
        order = self.exchange.create_order(user_id, **args)
        return self._fill_summary(user_id, order)

    def _fill_summary(self, user_id: str, order: Order) -> dict[str, Any]:
        o = wire.order_json(order)
        out: dict[str, Any] = {
            "order_id": o["order_id"],
            "client_order_id": o.get("client_order_id") or "",
            "fill_count": o["fill_count_fp"],
            "remaining_count": o["remaining_count_fp"],
            "ts_ms": ts_ms(),
        }
        fills = [
            wire.fill_json(f)
            for f in self.exchange.ledger.for_order(order).fills
            if f.order_id == order.order_id
        ]
        total = sum((Decimal(f["count_fp"]) for f in fills), Decimal(0))
        if total:
            price_key = "yes_price_dollars" if o.get("book_side", "bid") == "bid" else "no_price_dollars"
            notional = sum((Decimal(f[price_key]) * Decimal(f["count_fp"]) for f in fills), Decimal(0))
            fees = sum((Decimal(f["fee_cost"]) for f in fills), Decimal(0))
            out["average_fill_price"] = fmt_dollars(notional / total)
            out["average_fee_paid"] = fmt_dollars(fees / total)
        return out

    def create_order(self, req: Request) -> Response:
        return Response(201, self._place(req.user, req.json()))

    def _cancel(self, user_id: str, order_id: str, subaccount: int = 0) -> dict[str, Any]:
        check_order_subaccount(self._own_order(user_id, order_id), subaccount)
        order, reduced_by = self.exchange.cancel_order(user_id, order_id)
        o = wire.order_json(order)
        return {
            "order_id": o["order_id"],
            "client_order_id": o.get("client_order_id") or "",
            "reduced_by": fmt_count(reduced_by),
            "ts_ms": ts_ms(),
        }

    def cancel_order(self, req: Request) -> dict[str, Any]:
        return self._cancel(req.user, req.params["order_id"], subaccount_param(req))

    def amend_order(self, req: Request) -> dict[str, Any]:
        data = req.json()
        order_id = req.params["order_id"]
        check_order_subaccount(self._own_order(req.user, order_id), subaccount_param(req))
        ticker = data.get("ticker")
        if not isinstance(ticker, str) or not ticker:
            raise bad_request("ticker is required")
        side = data.get("side")
        if side not in ("bid", "ask"):
            raise bad_request("side must be bid or ask")
        if "price" not in data or "count" not in data:
            raise bad_request("price and count are required")
        price = parse_price(data["price"])
        count = parse_count(data["count"])
        expiration = data.get("expiration_time")
        if expiration is not None and (
            not isinstance(expiration, int)
            or isinstance(expiration, bool)
            or not 0 <= expiration < MAX_UNIX_SECONDS
        ):
            raise bad_request("expiration_time must be a Unix timestamp in seconds (0 removes it)")
        order = self.exchange.amend_order(
            req.user,
            order_id,
            ticker=ticker,
            side=side,
            price=price,
            count=count,
            updated_client_order_id=opt_field(data, "updated_client_order_id", str),
            expiration_time=expiration,
        )
        return self._fill_summary(req.user, order)

    def decrease_order(self, req: Request) -> dict[str, Any]:
        data = req.json()
        order_id = req.params["order_id"]
        check_order_subaccount(self._own_order(req.user, order_id), subaccount_param(req))
        has_by, has_to = data.get("reduce_by") is not None, data.get("reduce_to") is not None
        if has_by == has_to:
            raise bad_request("exactly one of reduce_by and reduce_to is required")
        if has_by:
            order = self.exchange.decrease_order(
                req.user, order_id, reduce_by=parse_count(data["reduce_by"], "reduce_by")
            )
        else:
            raw = data["reduce_to"]
            if raw in ("0", "0.0", "0.00"):
                reduce_to = Decimal(0)
            else:
                reduce_to = parse_count(raw, "reduce_to")
            order = self.exchange.decrease_order(req.user, order_id, reduce_to=reduce_to)
        o = wire.order_json(order)
        return {
            "order_id": o["order_id"],
            "client_order_id": o.get("client_order_id") or "",
            "remaining_count": o["remaining_count_fp"],
            "ts_ms": ts_ms(),
        }

    @staticmethod
    def _item_error(exc: Exception) -> dict[str, str]:
        if isinstance(exc, ApiError):
            return exc.body()["error"]
        if isinstance(exc, ExchangeError):
            return {"code": exc.code, "message": exc.message, "details": exc.details}
        log.exception("batch item failed", exc_info=exc)
        return {"code": "internal_server_error", "message": "internal server error", "details": ""}

    def _batch_items(self, req: Request) -> list[Any]:
        data = req.json()
        orders = data.get("orders")
        if not isinstance(orders, list) or not orders:
            raise bad_request("orders must be a non-empty array")
        if len(orders) > 20 * 10:
            raise bad_request("too many orders in one batch")
        return orders

    def batch_create(self, req: Request) -> Response:
        results = []
        for item in self._batch_items(req):
            try:
                if not isinstance(item, dict):
                    raise bad_request("each order must be an object")
                results.append(self._place(req.user, item))
            except (ApiError, ExchangeError) as exc:
                entry: dict[str, Any] = {"error": self._item_error(exc)}
                if isinstance(item, dict) and isinstance(item.get("client_order_id"), str):
                    entry["client_order_id"] = item["client_order_id"]
                results.append(entry)
        return Response(201, {"orders": results})

    def batch_cancel(self, req: Request) -> dict[str, Any]:
        results = []
        for item in self._batch_items(req):
            order_id = item.get("order_id") if isinstance(item, dict) else None
            try:
                if not isinstance(order_id, str) or not order_id:
                    raise bad_request("order_id is required")
                sub = item.get("subaccount") or 0
                if not isinstance(sub, int) or isinstance(sub, bool) or not 0 <= sub <= 63:
                    raise bad_request("subaccount must be between 0 and 63")
                results.append(self._cancel(req.user, order_id, sub))
            except (ApiError, ExchangeError) as exc:
                results.append(
                    {
                        "order_id": order_id if isinstance(order_id, str) else "",
                        "reduced_by": "0.00",
                        "error": self._item_error(exc),
                    }
                )
        return {"orders": results}

    def cancel_all(self, req: Request) -> Response:
        self.exchange.cancel_all(req.user, subaccount_param(req))
        return Response(204, None)
