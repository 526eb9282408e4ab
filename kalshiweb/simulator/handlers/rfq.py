"""Combos and RFQs (issue #15, item 9): /multivariate_event_collections/... and /communications/...; the state
lives in `simulator.rfq`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from kalshiweb.simulator import wire
from kalshiweb.simulator.api import Request, Response, Route, bad_request, not_found, route
from kalshiweb.simulator.engine import Exchange
from kalshiweb.simulator.handlers.common import EngineHandlers
from kalshiweb.simulator.handlers.subacct import subaccount_filter
from kalshiweb.simulator.ledger import MAX_SUBACCOUNT
from kalshiweb.simulator.parsing import opt_field, paginate
from kalshiweb.simulator.rfq import COLLECTION, SIZE_MAX, SIZE_MIN, Quote, Rfq, rfc3339

CENT = Decimal("0.01")


def _dollars(d: Decimal) -> str:
    return str(d.quantize(Decimal("0.0001")))


def _count(d: Decimal) -> str:
    return str(d.quantize(CENT))


def _decimal(value: Any, name: str) -> Decimal:
    if not isinstance(value, str):
        raise bad_request(f'{name} must be a decimal string such as "0.4500"')
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise bad_request(f"{name} is not a number") from None
    if not d.is_finite():
        raise bad_request(f"{name} is not a number")
    return d


def _subaccount(data: dict[str, Any]) -> int:
    sub = opt_field(data, "subaccount", int) or 0
    if not 0 <= sub <= MAX_SUBACCOUNT:
        raise bad_request(f"subaccount must be between 0 and {MAX_SUBACCOUNT}")
    return int(sub)


class RfqHandlers(EngineHandlers):
    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self.comms = exchange.communications

    # -- JSON ---------------------------------------------------------------------------------------------

    def rfq_json(self, rfq: Rfq, viewer: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": rfq.id,
            "creator_id": self.comms.comms_id(rfq.user_id),
            "market_ticker": rfq.market_ticker,
            "contracts_fp": _count(rfq.contracts),
            "status": rfq.status,
            "created_ts": rfc3339(rfq.created),
            "updated_ts": rfc3339(rfq.updated),
            "rest_remainder": rfq.rest_remainder,
        }
        if rfq.target_cost is not None:
            out["target_cost_dollars"] = _dollars(rfq.target_cost)
        if rfq.legs:
            out["mve_collection_ticker"] = COLLECTION
            out["mve_selected_legs"] = [
                {"event_ticker": x.event_ticker, "market_ticker": x.market_ticker, "side": x.side}
                for x in rfq.legs
            ]
        if rfq.cancelled is not None:
            out["cancelled_ts"] = rfc3339(rfq.cancelled)
            out["cancellation_reason"] = rfq.cancellation_reason
        if viewer == rfq.user_id:
            out["creator_user_id"] = rfq.user_id
            out["creator_subaccount"] = rfq.subaccount
        return out

    def quote_json(self, quote: Quote, viewer: str) -> dict[str, Any]:
        rfq = quote.rfq
        out: dict[str, Any] = {
            "id": quote.id,
            "rfq_id": rfq.id,
            "creator_id": self.comms.comms_id(quote.user_id),
            "rfq_creator_id": self.comms.comms_id(rfq.user_id),
            "market_ticker": rfq.market_ticker,
            "contracts_fp": _count(rfq.contracts),
            "yes_bid_dollars": _dollars(quote.yes_bid),
            "no_bid_dollars": _dollars(quote.no_bid),
            "yes_contracts_fp": _count(rfq.contracts),
            "no_contracts_fp": _count(rfq.contracts),
            "created_ts": rfc3339(quote.created),
            "updated_ts": rfc3339(quote.updated),
            "status": quote.status,
            "rest_remainder": quote.rest_remainder,
        }
        if rfq.target_cost is not None:
            out["rfq_target_cost_dollars"] = _dollars(rfq.target_cost)
        for key, value in (
            ("accepted_ts", quote.accepted),
            ("confirmed_ts", quote.confirmed),
            ("executed_ts", quote.executed),
            ("cancelled_ts", quote.cancelled),
        ):
            if value is not None:
                out[key] = rfc3339(value)
        if quote.accepted_side:
            out["accepted_side"] = quote.accepted_side
        if quote.cancellation_reason:
            out["cancellation_reason"] = quote.cancellation_reason
        if viewer == quote.user_id:
            out["creator_user_id"] = quote.user_id
            out["creator_subaccount"] = quote.subaccount
            out["post_only"] = quote.post_only
            if quote.creator_order_id:
                out["creator_order_id"] = quote.creator_order_id
        if viewer == rfq.user_id:
            out["rfq_creator_user_id"] = rfq.user_id
            out["rfq_creator_subaccount"] = rfq.subaccount
            if quote.rfq_creator_order_id:
                out["rfq_creator_order_id"] = quote.rfq_creator_order_id
        return out

    def collection_json(self) -> dict[str, Any]:
        events = self.comms.collection_events()
        now = self.exchange.now
        return {
            "collection_ticker": COLLECTION,
            "series_ticker": COLLECTION,
            "exchange_index": 0,
            "title": "Combos of any open markets (simulator)",
            "description": "Pick 2 to 4 markets of open events; the combo pays $1 when every leg resolves your way.",
            "open_date": rfc3339(now.replace(hour=0, minute=0, second=0, microsecond=0)),
            "close_date": rfc3339(
                now.replace(hour=0, minute=0, second=0, microsecond=0).replace(year=now.year + 1)
            ),
            "associated_events": [
                {
                    "ticker": t,
                    "is_yes_only": False,
                    "size_min": None,
                    "size_max": None,
                    "active_quoters": ["sim-bot"],
                }
                for t in events
            ],
            "associated_event_tickers": events,
            "is_ordered": False,
            "is_single_market_per_event": False,
            "is_all_yes": False,
            "size_min": SIZE_MIN,
            "size_max": SIZE_MAX,
            "functional_description": "YES when every selected leg resolves to its selected side.",
            # SDK 3.34 (newer than the 3.28 spec) requires the grid of the markets the collection creates
            "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        }

    # -- collections --------------------------------------------------------------------------------------

    def get_collections(self, req: Request) -> dict[str, Any]:
        status = req.q("status")
        if status not in (None, "", "unopened", "open", "closed"):
            raise bad_request("status must be unopened, open or closed")
        req.q_int("limit", 100, lo=1, hi=200)
        rows = [] if status in ("unopened", "closed") else [self.collection_json()]
        event = req.q("associated_event_ticker")
        series = req.q("series_ticker")
        rows = [
            r
            for r in rows
            if (not event or event in r["associated_event_tickers"])
            and (not series or series == r["series_ticker"])
        ]
        page, cursor = paginate(rows, lambda r: [r["collection_ticker"]], 200, req.q("cursor"))
        return {"multivariate_contracts": page, "cursor": cursor}

    def get_collection(self, req: Request) -> dict[str, Any]:
        if req.params["collection_ticker"] != COLLECTION:
            raise not_found(f"collection {req.params['collection_ticker']} not found")
        return {"multivariate_contract": self.collection_json()}

    def create_combo(self, req: Request) -> dict[str, Any]:
        data = req.json()
        market = self.comms.create_combo(
            req.user, req.params["collection_ticker"], data.get("selected_markets")
        )
        out: dict[str, Any] = {"event_ticker": market.event_ticker, "market_ticker": market.ticker}
        if data.get("with_market_payload") is True:
            out["market"] = wire.market_json(market)
        return out

    # -- communications -----------------------------------------------------------------------------------

    def get_comms_id(self, req: Request) -> dict[str, Any]:
        return {"communications_id": self.comms.comms_id(req.user)}

    def create_rfq(self, req: Request) -> Response:
        data = req.json()
        contracts = None
        if data.get("contracts_fp") is not None:
            contracts = _decimal(data["contracts_fp"], "contracts_fp")
        whole = opt_field(data, "contracts", int)
        if whole is not None:
            if contracts is not None and Decimal(whole) != contracts:
                raise bad_request("contracts and contracts_fp differ")
            contracts = Decimal(whole)
        target = data.get("target_cost_dollars")
        rfq = self.comms.create_rfq(
            req.user,
            market_ticker=data.get("market_ticker"),
            contracts=contracts,
            target_cost=_decimal(target, "target_cost_dollars") if target is not None else None,
            rest_remainder=data.get("rest_remainder"),
            replace_existing=bool(opt_field(data, "replace_existing", bool)),
            subaccount=_subaccount(data),
        )
        return Response(201, {"id": rfq.id})

    def get_rfqs(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=100) or 100
        status = req.q("status")
        if status not in (None, "", "open", "closed"):
            raise bad_request("status must be open or closed")
        user_filter = req.q("user_filter")
        if user_filter not in (None, "", "self"):
            raise bad_request("user_filter must be self")
        sub = subaccount_filter(req)
        ticker, event = req.q("market_ticker"), req.q("event_ticker")
        rows = []
        for rfq in self.comms.rfqs.values():
            if status and rfq.status != status:
                continue
            if user_filter == "self" and rfq.user_id != req.user:
                continue
            if sub is not None and (rfq.user_id != req.user or rfq.subaccount != sub):
                continue
            if (ticker and rfq.market_ticker != ticker) or (event and rfq.event_ticker != event):
                continue
            rows.append(self.rfq_json(rfq, req.user))
        page, cursor = paginate(
            rows, lambda r: [r["created_ts"], r["id"]], limit, req.q("cursor"), descending=True
        )
        return {"rfqs": page, "cursor": cursor}

    def get_rfq(self, req: Request) -> dict[str, Any]:
        return {"rfq": self.rfq_json(self.comms.rfq(req.params["rfq_id"]), req.user)}

    def delete_rfq(self, req: Request) -> Response:
        self.comms.delete_rfq(req.user, req.params["rfq_id"])
        return Response(204, None)

    def create_quote(self, req: Request) -> Response:
        data = req.json()
        for name in ("yes_bid", "no_bid"):
            if name not in data:
                raise bad_request(f"{name} is required")
        quote = self.comms.create_quote(
            req.user,
            rfq_id=data.get("rfq_id"),
            yes_bid=_decimal(data["yes_bid"], "yes_bid"),
            no_bid=_decimal(data["no_bid"], "no_bid"),
            rest_remainder=data.get("rest_remainder"),
            post_only=bool(opt_field(data, "post_only", bool)),
            subaccount=_subaccount(data),
        )
        return Response(201, {"id": quote.id})

    def get_quotes(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 500, lo=1, hi=500) or 500
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        status = req.q("status")
        for name in ("user_filter", "rfq_user_filter"):
            if req.q(name) not in (None, "", "self"):
                raise bad_request(f"{name} must be self")
        rfq_id = req.q("rfq_id")
        rows = []
        for quote in self.comms.quotes.values():
            if not self.comms.visible(req.user, quote):
                continue
            if status and quote.status != status:
                continue
            if rfq_id and quote.rfq.id != rfq_id:
                continue
            if req.q("user_filter") == "self" and quote.user_id != req.user:
                continue
            if req.q("rfq_user_filter") == "self" and quote.rfq.user_id != req.user:
                continue
            ts = quote.updated.timestamp()
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(self.quote_json(quote, req.user))
        page, cursor = paginate(
            rows, lambda q: [q["created_ts"], q["id"]], limit, req.q("cursor"), descending=True
        )
        return {"quotes": page, "cursor": cursor}

    def _visible_quote(self, req: Request) -> Quote:
        quote = self.comms.quote(req.params["quote_id"], req.params.get("rfq_id"))
        if not self.comms.visible(req.user, quote):
            raise not_found(f"quote {req.params['quote_id']} not found")
        return quote

    def get_quote(self, req: Request) -> dict[str, Any]:
        return {"quote": self.quote_json(self._visible_quote(req), req.user)}

    def delete_quote(self, req: Request) -> Response:
        self.comms.delete_quote(req.user, req.params["quote_id"], req.params.get("rfq_id"))
        return Response(204, None)

    def accept_quote(self, req: Request) -> Response:
        data = req.json()
        self.comms.accept(
            req.user, req.params["quote_id"], data.get("accepted_side"), req.params.get("rfq_id")
        )
        return Response(204, None)

    def confirm_quote(self, req: Request) -> Response:
        self.comms.confirm(req.user, req.params["quote_id"], req.params.get("rfq_id"))
        return Response(204, None)


def rfq_routes(exchange: Exchange) -> list[Route]:
    h = RfqHandlers(exchange)
    w: dict[str, Any] = {"auth": True, "kind": "write"}
    rfq_quote = "/communications/rfqs/{rfq_id}/quotes/{quote_id}"
    return [
        route("GET", "/multivariate_event_collections", h.get_collections),
        route("GET", "/multivariate_event_collections/{collection_ticker}", h.get_collection),
        route("POST", "/multivariate_event_collections/{collection_ticker}", h.create_combo, **w),
        route("GET", "/communications/id", h.get_comms_id, auth=True),
        route("POST", "/communications/rfqs", h.create_rfq, **w),
        route("GET", "/communications/rfqs", h.get_rfqs, auth=True),
        route("GET", "/communications/rfqs/{rfq_id}", h.get_rfq, auth=True),
        route("DELETE", "/communications/rfqs/{rfq_id}", h.delete_rfq, **w),
        route("POST", "/communications/quotes", h.create_quote, **w),
        route("GET", "/communications/quotes", h.get_quotes, auth=True),
        route("GET", "/communications/quotes/{quote_id}", h.get_quote, auth=True),
        route("DELETE", "/communications/quotes/{quote_id}", h.delete_quote, **w),
        route("PUT", "/communications/quotes/{quote_id}/accept", h.accept_quote, **w),
        route("PUT", "/communications/quotes/{quote_id}/confirm", h.confirm_quote, **w),
        route("GET", rfq_quote, h.get_quote, auth=True),
        route("DELETE", rfq_quote, h.delete_quote, **w),
        route("PUT", rfq_quote + "/accept", h.accept_quote, **w),
        route("PUT", rfq_quote + "/confirm", h.confirm_quote, **w),
    ]
