"""Combos and RFQs (issue #15, item 9): each operation answered once with success and once with an error against a
fresh simulator, checked against Kalshi's OpenAPI file; the `communications` messages against the AsyncAPI file.
tests/spec/test_rest_conformance.py counts CASES and IMPLEMENTED here too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.simulator.simhelp import Trader, drain

from .conftest import EVENT, TICKERS, SpecSim
from .test_rest_conformance import Case
from .test_ws_conformance import seen_since, subscribe

T0, T1, T2 = TICKERS[0], TICKERS[1], TICKERS[2]
COLLECTION = "KXMVESIM"
NOPE = str(uuid.uuid4())
LEGS = [
    {"market_ticker": T1, "event_ticker": EVENT, "side": "yes"},
    {"market_ticker": T2, "event_ticker": EVENT, "side": "no"},
]
RFQ = {"market_ticker": T0, "contracts_fp": "1.00", "rest_remainder": False}
QUOTE = {"yes_bid": "0.4000", "no_bid": "0.5000", "rest_remainder": False}

IMPLEMENTED = {
    "GetMultivariateEventCollections",
    "GetMultivariateEventCollection",
    "CreateMarketInMultivariateEventCollection",
    "GetCommunicationsID",
    "CreateRFQ",
    "GetRFQs",
    "GetRFQ",
    "DeleteRFQ",
    "CreateQuote",
    "GetQuotes",
    "GetQuote",
    "DeleteQuote",
    "GetRFQQuote",
    "DeleteRFQQuote",
    "AcceptQuote",
    "AcceptRFQQuote",
    "ConfirmQuote",
    "ConfirmRFQQuote",
}

# {rfq_id}: a fresh RFQ of Alice's; {quote_id}: with a fresh quote of Bob's on it; who "bob" sends as Bob;
# an "accepted" case has Alice accept Bob's quote first (yes side).
Q = "/communications/quotes/{quote_id}"
RQ = "/communications/rfqs/{rfq_id}/quotes/{quote_id}"
CASES = {
    "collections": Case("GET", "/multivariate_event_collections", 200, "GetMultivariateEventCollections"),
    "collections-400": Case(
        "GET",
        "/multivariate_event_collections",
        400,
        "GetMultivariateEventCollections",
        params={"status": "x"},
    ),
    "collection": Case(
        "GET", f"/multivariate_event_collections/{COLLECTION}", 200, "GetMultivariateEventCollection"
    ),
    "collection-404": Case(
        "GET", "/multivariate_event_collections/KXNOPE", 404, "GetMultivariateEventCollection"
    ),
    "combo": Case(
        "POST",
        f"/multivariate_event_collections/{COLLECTION}",
        200,
        "CreateMarketInMultivariateEventCollection",
        body={"selected_markets": LEGS, "with_market_payload": True},
    ),
    "combo-400": Case(
        "POST",
        f"/multivariate_event_collections/{COLLECTION}",
        400,
        "CreateMarketInMultivariateEventCollection",
        body={"selected_markets": LEGS[:1]},
    ),
    "comms-id": Case("GET", "/communications/id", 200, "GetCommunicationsID"),
    "comms-id-401": Case("GET", "/communications/id", 401, "GetCommunicationsID", who="anonymous"),
    "create-rfq": Case("POST", "/communications/rfqs", 201, "CreateRFQ", body=RFQ),
    "create-rfq-400": Case(
        "POST", "/communications/rfqs", 400, "CreateRFQ", body={"market_ticker": T0, "contracts_fp": "1.00"}
    ),
    "rfqs": Case("GET", "/communications/rfqs", 200, "GetRFQs", params={"user_filter": "self"}),
    "rfqs-400": Case("GET", "/communications/rfqs", 400, "GetRFQs", params={"status": "sleeping"}),
    "rfq": Case("GET", "/communications/rfqs/{rfq_id}", 200, "GetRFQ"),
    "rfq-404": Case("GET", f"/communications/rfqs/{NOPE}", 404, "GetRFQ"),
    "delete-rfq": Case("DELETE", "/communications/rfqs/{rfq_id}", 204, "DeleteRFQ"),
    "delete-rfq-404": Case("DELETE", f"/communications/rfqs/{NOPE}", 404, "DeleteRFQ"),
    "create-quote": Case("POST", "/communications/quotes", 201, "CreateQuote", body=QUOTE, who="bob"),
    "create-quote-400": Case(
        "POST", "/communications/quotes", 400, "CreateQuote", body={**QUOTE, "yes_bid": "0.9000"}, who="bob"
    ),
    "quotes": Case("GET", "/communications/quotes", 200, "GetQuotes", params={"rfq_user_filter": "self"}),
    "quotes-400": Case("GET", "/communications/quotes", 400, "GetQuotes", params={"user_filter": "them"}),
    "quote": Case("GET", Q, 200, "GetQuote"),
    "quote-404": Case("GET", f"/communications/quotes/{NOPE}", 404, "GetQuote"),
    "delete-quote": Case("DELETE", Q, 204, "DeleteQuote", who="bob"),
    "delete-quote-404": Case("DELETE", Q, 404, "DeleteQuote"),  # not Alice's quote
    "rfq-quote": Case("GET", RQ, 200, "GetRFQQuote", who="bob"),
    "rfq-quote-404": Case("GET", f"/communications/rfqs/{NOPE}/quotes/{NOPE}", 404, "GetRFQQuote"),
    "delete-rfq-quote": Case("DELETE", RQ, 204, "DeleteRFQQuote", who="bob"),
    "delete-rfq-quote-404": Case(
        "DELETE", f"/communications/rfqs/{NOPE}/quotes/{NOPE}", 404, "DeleteRFQQuote"
    ),
    "accept": Case("PUT", Q + "/accept", 204, "AcceptQuote", body={"accepted_side": "yes"}),
    "accept-400": Case("PUT", Q + "/accept", 400, "AcceptQuote", body={"accepted_side": "maybe"}),
    "rfq-accept": Case("PUT", RQ + "/accept", 204, "AcceptRFQQuote", body={"accepted_side": "no"}),
    "rfq-accept-400": Case("PUT", RQ + "/accept", 400, "AcceptRFQQuote", body={}),
    "confirm": Case("PUT", Q + "/confirm", 204, "ConfirmQuote", who="bob", body="accepted"),
    "confirm-400": Case("PUT", Q + "/confirm", 400, "ConfirmQuote", who="bob"),  # not accepted yet
    "rfq-confirm": Case("PUT", RQ + "/confirm", 204, "ConfirmRFQQuote", who="bob", body="accepted"),
    "rfq-confirm-400": Case("PUT", RQ + "/confirm", 400, "ConfirmRFQQuote", who="bob"),
}


def new_rfq(alice: Trader) -> str:
    response = alice.post("/communications/rfqs", RFQ)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def new_quote(bob: Trader, rfq_id: str) -> str:
    response = bob.post("/communications/quotes", {**QUOTE, "rfq_id": rfq_id})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def send_case(spec: SpecSim, case: Case) -> Any:
    alice, bob = spec.alice, spec.bob
    path, body = case.path, case.body
    if "{rfq_id}" in path or "{quote_id}" in path or case.operation == "CreateQuote":
        rfq_id = new_rfq(alice)
        path = path.replace("{rfq_id}", rfq_id)
        if case.operation == "CreateQuote":
            body = {**body, "rfq_id": rfq_id}
        if "{quote_id}" in path:
            quote_id = new_quote(bob, rfq_id)
            path = path.replace("{quote_id}", quote_id)
            if body == "accepted":
                accepted = alice.request(
                    "PUT", f"/communications/quotes/{quote_id}/accept", body={"accepted_side": "yes"}
                )
                assert accepted.status_code == 204, accepted.text
                body = None
    trader = bob if case.who == "bob" else alice
    if case.who in ("alice", "bob"):
        return trader.request(case.method, path, body=body, params=case.params or None)
    return trader.http.request(case.method, path, params=case.params or None)


@pytest.mark.parametrize("name", list(CASES))
def test_each_rfq_operation_answers_as_the_spec_says(spec_sim: SpecSim, name: str) -> None:
    case = CASES[name]
    before = len(spec_sim.checker.violations)
    response = send_case(spec_sim, case)
    assert response.status_code == case.status, response.text
    assert spec_sim.checker.violations[before:] == []
    assert (case.operation, case.status) in spec_sim.checker.operations_seen


async def test_a_combo_quote_requested_from_the_bot_and_accepted_over_the_wire(spec_sim: SpecSim) -> None:
    """The whole exchange over REST and the socket: combo market, RFQ, the bot's quote arriving on
    `communications`, accept, the bot's confirm, the execution (fills on both sides)."""
    alice = spec_sim.alice
    before = len(spec_sim.checker.violations)
    combo = alice.post(f"/multivariate_event_collections/{COLLECTION}", {"selected_markets": LEGS}).json()
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["communications"])
        await subscribe(ws, 2, ["fill"])
        rfq_id = alice.post(
            "/communications/rfqs",
            {"market_ticker": combo["market_ticker"], "contracts_fp": "3.00", "rest_remainder": False},
        ).json()["id"]
        messages = await drain(ws, quiet=0.6)
        quotes = [m["msg"] for m in messages if m["type"] == "quote_created" and m["msg"]["rfq_id"] == rfq_id]
        assert len(quotes) == 1, messages
        quote = quotes[0]
        accepted = alice.request(
            "PUT",
            f"/communications/rfqs/{rfq_id}/quotes/{quote['quote_id']}/accept",
            body={"accepted_side": "yes"},
        )
        assert accepted.status_code == 204, accepted.text
        messages += await drain(ws, quiet=0.6)
    kinds = [m["type"] for m in messages]
    assert {"rfq_created", "quote_created", "quote_accepted", "quote_executed", "fill"} <= set(kinds), kinds
    fill = next(
        m["msg"]
        for m in messages
        if m["type"] == "fill" and m["msg"]["market_ticker"] == combo["market_ticker"]
    )
    assert fill["count_fp"] == "3.00" and fill["side"] == "yes"
    assert fill["yes_price_dollars"] == f"{1 - float(quote['no_bid_dollars']):.4f}"
    final = alice.get(f"/communications/rfqs/{rfq_id}/quotes/{quote['quote_id']}").json()["quote"]
    assert final["status"] == "executed" and final["rfq_creator_order_id"]
    assert alice.get(f"/communications/rfqs/{rfq_id}").json()["rfq"]["status"] == "closed"
    seen_since(spec_sim, before, "rfqCreated", "quoteCreated", "quoteAccepted", "quoteExecuted", "fill")


async def test_a_deleted_rfq_is_announced(spec_sim: SpecSim) -> None:
    alice = spec_sim.alice
    before = len(spec_sim.checker.violations)
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["communications"])
        rfq_id = new_rfq(alice)
        assert alice.delete(f"/communications/rfqs/{rfq_id}").status_code == 204
        messages = await drain(ws, quiet=0.4)
    assert any(m["type"] == "rfq_deleted" and m["msg"]["id"] == rfq_id for m in messages)
    seen_since(spec_sim, before, "rfqDeleted")
