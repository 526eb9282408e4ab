"""Combos and RFQs (issue #15, item 9): the simulator's multivariate event collection, combo markets created
from it, requests for quote, quotes, accept and confirm, and a quoting bot so all of it works offline.

* One collection, `COLLECTION`, associates every event with an active market (combos are not legs). Creating a
  market in it from 2-4 legs makes (once) a combo market whose fair value is the product of its legs'.
* An RFQ asks for `contracts` of a market; every `communications` subscriber hears `rfq_created`.
* The quoting bot (`QUOTER`, an account of its own) answers each open RFQ on the next clock tick around the
  market's fair value; anyone else may quote too (`quote_created` goes to both sides).
* The RFQ's creator accepts a quote on a side: `accepted_side` is the side the RFQ creator buys (yes: they pay
  1 - no_bid and the quoter buys NO at no_bid; no: they pay 1 - yes_bid and the quoter buys YES at yes_bid).
  The quoter confirms (the bot on the next tick); the trade then runs through the order book as two orders
  (the quoter's resting one, the creator's IOC against it), so fills, positions, fees and the private channels
  behave as for any order. `quote_executed` goes to both sides; the RFQ closes.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kalshiweb.simulator.core import Core
from kalshiweb.simulator.events import CommsEvent
from kalshiweb.simulator.ledger import Ledger
from kalshiweb.simulator.lifecycle import Lifecycle
from kalshiweb.simulator.matching import Matcher
from kalshiweb.simulator.model import ACTIVE, ONE, ZERO, Event, ExchangeError, Market, Series

log = logging.getLogger(__name__)

COLLECTION = "KXMVESIM"
QUOTER = "sim-rfq-quoter"
QUOTER_BALANCE = Decimal("10000000")
MAX_OPEN_RFQS = 100
SIZE_MIN, SIZE_MAX = 2, 4
CENT = Decimal("0.01")
HALF_SPREAD = Decimal("0.03")


@dataclass
class Leg:
    event_ticker: str
    market_ticker: str
    side: str


@dataclass
class Rfq:
    id: str
    user_id: str
    market_ticker: str
    event_ticker: str
    contracts: Decimal
    target_cost: Decimal | None
    rest_remainder: bool
    subaccount: int
    created: datetime
    updated: datetime
    status: str = "open"  # open | closed
    cancelled: datetime | None = None
    cancellation_reason: str = ""
    legs: list[Leg] = field(default_factory=list)


@dataclass
class Quote:
    id: str
    rfq: Rfq
    user_id: str
    yes_bid: Decimal
    no_bid: Decimal
    rest_remainder: bool
    post_only: bool
    subaccount: int
    created: datetime
    updated: datetime
    status: str = "open"  # open | accepted | confirmed | executed | cancelled
    accepted_side: str | None = None
    accepted: datetime | None = None
    confirmed: datetime | None = None
    executed: datetime | None = None
    cancelled: datetime | None = None
    cancellation_reason: str = ""
    creator_order_id: str | None = None
    rfq_creator_order_id: str | None = None


def _bad(details: str, code: str = "invalid_parameters") -> ExchangeError:
    return ExchangeError(400, code, details)


def _not_found(what: str) -> ExchangeError:
    return ExchangeError(404, "not_found", f"{what} not found")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Communications:
    def __init__(self, core: Core, ledger: Ledger, matcher: Matcher, lifecycle: Lifecycle) -> None:
        self._core = core
        self._ledger = ledger
        self._matcher = matcher
        self._lifecycle = lifecycle
        self.rfqs: dict[str, Rfq] = {}
        self.quotes: dict[str, Quote] = {}
        self.combos: dict[str, list[Leg]] = {}  # combo market ticker -> its legs
        self._comms_ids: dict[str, str] = {}
        self._to_quote: list[str] = []
        self._to_confirm: list[str] = []

    # -- identities --------------------------------------------------------------------------------------

    def comms_id(self, user_id: str) -> str:
        """The member's public communications id (stable, reveals nothing of the user id)."""
        cid = self._comms_ids.get(user_id)
        if cid is None:
            cid = self._comms_ids[user_id] = hashlib.sha256(f"comms:{user_id}".encode()).hexdigest()[:20]
        return cid

    def _emit(self, msg_type: str, msg: dict[str, Any], recipients: set[str] | None) -> None:
        self._core.emit(CommsEvent(msg_type, msg, frozenset(recipients) if recipients is not None else None))

    # -- the collection and its combo markets ------------------------------------------------------------

    def collection_events(self) -> list[str]:
        events = []
        for ticker, event in self._lifecycle.events.items():
            if event.series_ticker == COLLECTION:
                continue
            if any(self._core.markets[t].status == ACTIVE for t in event.markets if t in self._core.markets):
                events.append(ticker)
        return sorted(events)

    def create_combo(self, user_id: str, collection: str, selected: Any) -> Market:
        self._ledger.account(user_id)
        if collection != COLLECTION:
            raise _not_found(f"collection {collection}")
        if not isinstance(selected, list) or not SIZE_MIN <= len(selected) <= SIZE_MAX:
            raise _bad(f"selected_markets must list {SIZE_MIN} to {SIZE_MAX} markets")
        legs: list[Leg] = []
        for item in selected:
            if not isinstance(item, dict):
                raise _bad("each selected market is an object with market_ticker, event_ticker and side")
            ticker, event, side = item.get("market_ticker"), item.get("event_ticker"), item.get("side")
            if side not in ("yes", "no") or not isinstance(ticker, str) or not isinstance(event, str):
                raise _bad("each selected market needs market_ticker, event_ticker and side (yes or no)")
            m = self._core.markets.get(ticker)
            if m is None or m.event_ticker != event or m.series_ticker == COLLECTION:
                raise _bad(f"{ticker} is not a market of event {event} in the collection")
            if m.status != ACTIVE:
                raise _bad(f"{ticker} is not open", code="market_closed")
            legs.append(Leg(event, ticker, side))
        if len({leg.market_ticker for leg in legs}) != len(legs):
            raise _bad("a market may be selected once")
        legs.sort(key=lambda leg: (leg.market_ticker, leg.side))
        digest = hashlib.sha256("|".join(f"{x.market_ticker}:{x.side}" for x in legs).encode()).hexdigest()
        event_ticker = f"{COLLECTION}-S{digest[:10].upper()}"
        ticker = f"{event_ticker}-1"
        existing = self._core.markets.get(ticker)
        if existing is not None:
            return existing
        if COLLECTION not in self._lifecycle.series:
            self._lifecycle.add_series(Series(COLLECTION, "Combos (simulator)", "Combos"))
        fair = ONE
        close = None
        for leg in legs:
            m = self._core.markets[leg.market_ticker]
            fair *= m.fair_value if leg.side == "yes" else ONE - m.fair_value
            close = m.close_time if close is None else min(close, m.close_time)
        assert close is not None
        title = " and ".join(f"{leg.side.upper()} {leg.market_ticker}" for leg in legs)
        self._lifecycle.add_event(Event(event_ticker, COLLECTION, f"Combo: {title}", category="Combos"))
        market = Market(
            ticker=ticker,
            event_ticker=event_ticker,
            series_ticker=COLLECTION,
            title=f"Combo: {title}",
            yes_sub_title="All legs",
            no_sub_title="Not all legs",
            open_time=self._core.now - timedelta(seconds=1),
            close_time=close,
            fair_value=min(max(fair, CENT), ONE - CENT),
        )
        self._lifecycle.add_market(market)
        self.combos[ticker] = legs
        return market

    # -- RFQs --------------------------------------------------------------------------------------------

    def create_rfq(
        self,
        user_id: str,
        *,
        market_ticker: Any,
        contracts: Decimal | None,
        target_cost: Decimal | None,
        rest_remainder: Any,
        replace_existing: bool = False,
        subaccount: int = 0,
    ) -> Rfq:
        self._ledger.sub_account(user_id, subaccount)
        if not isinstance(market_ticker, str) or not market_ticker:
            raise _bad("market_ticker is required")
        if not isinstance(rest_remainder, bool):
            raise _bad("rest_remainder is required (true or false)")
        m = self._core.markets.get(market_ticker)
        if m is None:
            raise _not_found(f"market {market_ticker}")
        if m.status != ACTIVE:
            raise _bad(f"market {market_ticker} is not open", code="market_closed")
        if contracts is None:
            raise _bad("contracts_fp (or contracts) is required")
        if contracts <= 0 or contracts != contracts.quantize(CENT):
            raise _bad("contracts must be positive, in steps of 0.01", code="invalid_order_size")
        mine = [r for r in self.rfqs.values() if r.user_id == user_id and r.status == "open"]
        if replace_existing:
            for rfq in mine:
                self._close_rfq(rfq, "replaced")
        elif len(mine) >= MAX_OPEN_RFQS:
            raise _bad(f"at most {MAX_OPEN_RFQS} open RFQs")
        now = self._core.now
        rfq = Rfq(
            self._core.new_id(), user_id, m.ticker, m.event_ticker, contracts, target_cost, rest_remainder,
            subaccount, now, now, legs=list(self.combos.get(m.ticker, [])),
        )  # fmt: skip
        self.rfqs[rfq.id] = rfq
        self._to_quote.append(rfq.id)
        self._emit("rfq_created", self.rfq_event(rfq, "created_ts"), None)
        return rfq

    def rfq_event(self, rfq: Rfq, ts_key: str) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "id": rfq.id,
            "creator_id": "",  # Kalshi leaves it empty in rfq_created
            "market_ticker": rfq.market_ticker,
            "event_ticker": rfq.event_ticker,
            "contracts_fp": str(rfq.contracts.quantize(CENT)),
            ts_key: rfc3339(rfq.created if ts_key == "created_ts" else (rfq.cancelled or self._core.now)),
        }
        if rfq.target_cost is not None:
            msg["target_cost_dollars"] = str(rfq.target_cost.quantize(Decimal("0.0001")))
        if rfq.legs and ts_key == "created_ts":
            msg["mve_collection_ticker"] = COLLECTION
            msg["mve_selected_legs"] = [
                {"event_ticker": x.event_ticker, "market_ticker": x.market_ticker, "side": x.side}
                for x in rfq.legs
            ]
        return msg

    def rfq(self, rfq_id: str) -> Rfq:
        rfq = self.rfqs.get(rfq_id)
        if rfq is None:
            raise _not_found(f"rfq {rfq_id}")
        return rfq

    def delete_rfq(self, user_id: str, rfq_id: str) -> None:
        rfq = self.rfq(rfq_id)
        if rfq.user_id != user_id:
            raise _not_found(f"rfq {rfq_id}")
        if rfq.status != "open":
            raise _bad("the RFQ is already closed")
        self._close_rfq(rfq, "deleted")

    def _close_rfq(self, rfq: Rfq, reason: str) -> None:
        now = self._core.now
        rfq.status, rfq.cancelled, rfq.updated, rfq.cancellation_reason = "closed", now, now, reason
        for quote in self.quotes.values():
            if quote.rfq is rfq and quote.status in ("open", "accepted"):
                self._cancel_quote(quote, f"rfq {reason}")
        self._emit("rfq_deleted", self.rfq_event(rfq, "deleted_ts"), None)

    # -- quotes ------------------------------------------------------------------------------------------

    def create_quote(
        self,
        user_id: str,
        *,
        rfq_id: Any,
        yes_bid: Decimal,
        no_bid: Decimal,
        rest_remainder: Any,
        post_only: bool = False,
        subaccount: int = 0,
    ) -> Quote:
        self._ledger.sub_account(user_id, subaccount)
        if not isinstance(rfq_id, str) or not rfq_id:
            raise _bad("rfq_id is required")
        if not isinstance(rest_remainder, bool):
            raise _bad("rest_remainder is required (true or false)")
        rfq = self.rfq(rfq_id)
        if rfq.status != "open":
            raise _bad("the RFQ is closed")
        if rfq.user_id == user_id:
            raise _bad("you cannot quote your own RFQ", code="self_trade")
        for name, price in (("yes_bid", yes_bid), ("no_bid", no_bid)):
            if not ZERO <= price < ONE or price != price.quantize(CENT):
                raise _bad(f"{name} must be a whole-cent price from 0 to 0.99")
        if yes_bid == ZERO and no_bid == ZERO:
            raise _bad("quote at least one side")
        if yes_bid + no_bid > ONE:
            raise _bad("yes_bid + no_bid must not exceed 1")
        now = self._core.now
        quote = Quote(
            self._core.new_id(),
            rfq,
            user_id,
            yes_bid,
            no_bid,
            rest_remainder,
            post_only,
            subaccount,
            now,
            now,
        )
        self.quotes[quote.id] = quote
        msg = {
            "quote_id": quote.id,
            "rfq_id": rfq.id,
            "quote_creator_id": self.comms_id(user_id),
            "rfq_creator_id": self.comms_id(rfq.user_id),
            "market_ticker": rfq.market_ticker,
            "event_ticker": rfq.event_ticker,
            "yes_bid_dollars": _dollars(yes_bid),
            "no_bid_dollars": _dollars(no_bid),
            "yes_contracts_offered_fp": str(rfq.contracts.quantize(CENT)),
            "no_contracts_offered_fp": str(rfq.contracts.quantize(CENT)),
            "created_ts": rfc3339(now),
        }
        self._emit("quote_created", msg, {user_id, rfq.user_id})
        return quote

    def quote(self, quote_id: str, rfq_id: str | None = None) -> Quote:
        quote = self.quotes.get(quote_id)
        if quote is None or (rfq_id is not None and quote.rfq.id != rfq_id):
            raise _not_found(f"quote {quote_id}")
        return quote

    def visible(self, user_id: str, quote: Quote) -> bool:
        return user_id in (quote.user_id, quote.rfq.user_id)

    def delete_quote(self, user_id: str, quote_id: str, rfq_id: str | None = None) -> None:
        quote = self.quote(quote_id, rfq_id)
        if quote.user_id != user_id:
            raise _not_found(f"quote {quote_id}")
        if quote.status not in ("open", "accepted"):
            raise _bad(f"the quote is {quote.status}")
        self._cancel_quote(quote, "deleted")

    def _cancel_quote(self, quote: Quote, reason: str) -> None:
        now = self._core.now
        quote.status, quote.cancelled, quote.updated, quote.cancellation_reason = (
            "cancelled",
            now,
            now,
            reason,
        )

    def accept(self, user_id: str, quote_id: str, side: Any, rfq_id: str | None = None) -> Quote:
        quote = self.quote(quote_id, rfq_id)
        if quote.rfq.user_id != user_id:
            raise _not_found(f"quote {quote_id}")
        if side not in ("yes", "no"):
            raise _bad("accepted_side must be yes or no")
        if quote.status != "open" or quote.rfq.status != "open":
            raise _bad(f"the quote is {quote.status}, not open")
        # what the RFQ creator buys at: YES at 1 - no_bid, NO at 1 - yes_bid
        if (quote.no_bid if side == "yes" else quote.yes_bid) <= ZERO:
            raise _bad(f"the quote has no price for buying {side}")
        for other in self.quotes.values():
            if other.rfq is quote.rfq and other is not quote and other.status == "accepted":
                raise _bad("another quote of this RFQ is already accepted")
        now = self._core.now
        quote.status, quote.accepted_side, quote.accepted, quote.updated = "accepted", side, now, now
        msg = {
            "quote_id": quote.id,
            "rfq_id": quote.rfq.id,
            "quote_creator_id": self.comms_id(quote.user_id),
            "rfq_creator_id": self.comms_id(quote.rfq.user_id),
            "market_ticker": quote.rfq.market_ticker,
            "event_ticker": quote.rfq.event_ticker,
            "yes_bid_dollars": _dollars(quote.yes_bid),
            "no_bid_dollars": _dollars(quote.no_bid),
            "accepted_side": side,
            "contracts_accepted_fp": str(quote.rfq.contracts.quantize(CENT)),
        }
        self._emit("quote_accepted", msg, {quote.user_id, quote.rfq.user_id})
        if quote.user_id == QUOTER:
            self._to_confirm.append(quote.id)
        return quote

    def confirm(self, user_id: str, quote_id: str, rfq_id: str | None = None) -> Quote:
        quote = self.quote(quote_id, rfq_id)
        if quote.user_id != user_id:
            raise _not_found(f"quote {quote_id}")
        if quote.status != "accepted":
            raise _bad(f"the quote is {quote.status}, not accepted")
        quote.status, quote.confirmed, quote.updated = "confirmed", self._core.now, self._core.now
        self._execute(quote)
        return quote

    def _execute(self, quote: Quote) -> None:
        """Trade the accepted quote through the book: the quoter's order rests, the creator's IOC takes it."""
        rfq, m = quote.rfq, self._core.get_market(quote.rfq.market_ticker)
        if quote.accepted_side == "yes":  # creator buys YES from the quoter's NO bid
            quoter_side, yes_price = "ask", ONE - quote.no_bid
        else:  # creator buys NO from the quoter's YES bid
            quoter_side, yes_price = "bid", quote.yes_bid
        creator_side = "bid" if quoter_side == "ask" else "ask"
        maker = self._matcher.create_order(
            quote.user_id, ticker=m.ticker, side=quoter_side, count=rfq.contracts, price=yes_price,
            time_in_force="good_till_canceled", subaccount=quote.subaccount,
            client_order_id=f"quote-{quote.id}",
        )  # fmt: skip
        try:
            taker = self._matcher.create_order(
                rfq.user_id, ticker=m.ticker, side=creator_side, count=rfq.contracts, price=yes_price,
                time_in_force="immediate_or_cancel", subaccount=rfq.subaccount,
                client_order_id=f"rfq-{rfq.id}-{quote.id}",
            )  # fmt: skip
        except ExchangeError as exc:
            if maker.is_resting:
                self._matcher.cancel_order(quote.user_id, maker.order_id)
            self._cancel_quote(quote, f"execution failed: {exc.message}")
            raise
        if maker.is_resting and not quote.rest_remainder:
            self._matcher.cancel_order(quote.user_id, maker.order_id)
        now = self._core.now
        quote.status, quote.executed, quote.updated = "executed", now, now
        quote.creator_order_id, quote.rfq_creator_order_id = maker.order_id, taker.order_id
        rfq.status, rfq.updated = "closed", now
        for other in self.quotes.values():
            if other.rfq is rfq and other is not quote and other.status == "open":
                self._cancel_quote(other, "rfq executed")
        for who, order in ((quote.user_id, maker), (rfq.user_id, taker)):
            msg: dict[str, Any] = {
                "quote_id": quote.id,
                "rfq_id": rfq.id,
                "quote_creator_id": self.comms_id(quote.user_id),
                "rfq_creator_id": self.comms_id(rfq.user_id),
                "order_id": order.order_id,
                "client_order_id": order.client_order_id or "",
                "market_ticker": rfq.market_ticker,
                "executed_ts": rfc3339(now),
            }
            if order.subaccount:
                msg["subaccount"] = order.subaccount
            self._emit("quote_executed", msg, {who})

    # -- the quoting bot ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """The bot quotes each new RFQ and confirms each of its accepted quotes (called on every clock step)."""
        if not self._to_quote and not self._to_confirm:
            return
        if QUOTER not in self._ledger.accounts:
            self._ledger.add_account(QUOTER, QUOTER_BALANCE)
        to_quote, self._to_quote = self._to_quote, []
        for rfq_id in to_quote:
            rfq = self.rfqs.get(rfq_id)
            if rfq is None or rfq.status != "open" or rfq.user_id == QUOTER:
                continue
            fair = self._core.markets[rfq.market_ticker].fair_value
            yes_bid = min(max(_cents(fair - HALF_SPREAD), CENT), ONE - 2 * CENT)
            no_bid = min(max(_cents(ONE - fair - HALF_SPREAD), CENT), ONE - yes_bid - CENT)
            try:
                self.create_quote(QUOTER, rfq_id=rfq.id, yes_bid=yes_bid, no_bid=no_bid, rest_remainder=False)
            except ExchangeError as exc:
                log.info("rfq bot: no quote for %s (%s)", rfq_id, exc.message)
        to_confirm, self._to_confirm = self._to_confirm, []
        for quote_id in to_confirm:
            try:
                self.confirm(QUOTER, quote_id)
            except ExchangeError as exc:
                log.info("rfq bot: quote %s not executed (%s)", quote_id, exc.message)


def _dollars(d: Decimal) -> str:
    return str(d.quantize(Decimal("0.0001")))


def rfc3339(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
