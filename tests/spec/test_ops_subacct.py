"""Subaccount operations (issue #15, item 6), each answered once with success and once with an error against a
fresh simulator, checked against Kalshi's OpenAPI file; plus the `subaccount` field and query of the order and
portfolio operations. tests/spec/test_rest_conformance.py counts CASES and IMPLEMENTED here too."""

from __future__ import annotations

import uuid

import pytest

from .conftest import TICKERS, SpecSim
from .test_rest_conformance import Case, order_body, send

T0 = TICKERS[0]


def transfer_body(**extra: object) -> dict[str, object]:
    return {
        "client_transfer_id": str(uuid.uuid4()),
        "from_subaccount": 0,
        "to_subaccount": 1,
        "amount_cents": 2500,
        **extra,
    }


IMPLEMENTED = {
    "CreateSubaccount",
    "GetSubaccountBalances",
    "ApplySubaccountTransfer",
    "GetSubaccountTransfers",
    "GetSubaccountNetting",
    "UpdateSubaccountNetting",
}

CASES = {
    "create": Case("POST", "/portfolio/subaccounts", 201, "CreateSubaccount", body={}),
    "create-401": Case("POST", "/portfolio/subaccounts", 401, "CreateSubaccount", who="anonymous"),
    "create-400": Case("POST", "/portfolio/subaccounts", 400, "CreateSubaccount", body={"exchange_index": 7}),
    "balances": Case("GET", "/portfolio/subaccounts/balances", 200, "GetSubaccountBalances"),
    "balances-401": Case(
        "GET", "/portfolio/subaccounts/balances", 401, "GetSubaccountBalances", who="bad-signature"
    ),
    "transfer": Case(
        "POST", "/portfolio/subaccounts/transfer", 200, "ApplySubaccountTransfer", body=transfer_body()
    ),
    "transfer-400": Case(
        "POST",
        "/portfolio/subaccounts/transfer",
        400,
        "ApplySubaccountTransfer",
        body=transfer_body(amount_cents=10_000_000),  # more than the primary holds
    ),
    "transfers": Case("GET", "/portfolio/subaccounts/transfers", 200, "GetSubaccountTransfers"),
    "transfers-400": Case(
        "GET", "/portfolio/subaccounts/transfers", 400, "GetSubaccountTransfers", params={"cursor": "%%%"}
    ),
    "netting": Case("GET", "/portfolio/subaccounts/netting", 200, "GetSubaccountNetting"),
    "netting-401": Case(
        "GET", "/portfolio/subaccounts/netting", 401, "GetSubaccountNetting", who="anonymous"
    ),
    "netting-put": Case(
        "PUT",
        "/portfolio/subaccounts/netting",
        200,
        "UpdateSubaccountNetting",
        body={"subaccount_number": 1, "enabled": False},
    ),
    "netting-put-400": Case(
        "PUT",
        "/portfolio/subaccounts/netting",
        400,
        "UpdateSubaccountNetting",
        body={"subaccount_number": 1, "enabled": "no"},
    ),
    # the subaccount query / field on the existing operations
    "balance-sub": Case("GET", "/portfolio/balance", 200, "GetBalance", params={"subaccount": 1}),
    "balance-sub-400": Case("GET", "/portfolio/balance", 400, "GetBalance", params={"subaccount": 63}),
    "positions-sub": Case("GET", "/portfolio/positions", 200, "GetPositions", params={"subaccount": 1}),
    "fills-sub": Case("GET", "/portfolio/fills", 200, "GetFills", params={"subaccount": 1}),
    "orders-sub": Case("GET", "/portfolio/orders", 200, "GetOrders", params={"subaccount": 1}),
    "settlements-sub": Case("GET", "/portfolio/settlements", 200, "GetSettlements", params={"subaccount": 1}),
    "create-order-sub": Case(
        "POST", "/portfolio/events/orders", 201, "CreateOrderV2", body=order_body(subaccount=1)
    ),
    "create-order-sub-400": Case(
        "POST", "/portfolio/events/orders", 400, "CreateOrderV2", body=order_body(subaccount=64)
    ),
}


@pytest.fixture(scope="module")
def alice_has_a_funded_subaccount(spec_sim: SpecSim) -> None:
    alice = spec_sim.alice
    balances = alice.get("/portfolio/subaccounts/balances").json()["subaccount_balances"]
    if len(balances) < 2:
        assert alice.post("/portfolio/subaccounts", {}).status_code == 201
    assert (
        alice.post("/portfolio/subaccounts/transfer", transfer_body(amount_cents=10_000)).status_code == 200
    )


@pytest.mark.parametrize("name", list(CASES))
def test_each_subaccount_operation_answers_as_the_spec_says(
    spec_sim: SpecSim, alice_has_a_funded_subaccount: None, name: str
) -> None:
    case = CASES[name]
    before = len(spec_sim.checker.violations)
    response = send(spec_sim, case)
    assert response.status_code == case.status, response.text
    assert spec_sim.checker.violations[before:] == []
    assert (case.operation, case.status) in spec_sim.checker.operations_seen


async def test_private_messages_of_a_subaccount_carry_its_number(
    spec_sim: SpecSim, alice_has_a_funded_subaccount: None
) -> None:
    from tests.simulator.simhelp import drain

    from .test_ws_conformance import seen_since, subscribe

    alice, bob = spec_sim.alice, spec_sim.bob
    before = len(spec_sim.checker.violations)
    ticker = TICKERS[1]
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["fill", "user_orders", "market_positions"])
        placed = alice.order(ticker, "bid", "2", "0.3000", subaccount=1)
        assert placed.status_code == 201, placed.text
        bob.order(ticker, "ask", "2", "0.3000", time_in_force="immediate_or_cancel")
        messages = await drain(ws)
    by_type = {msg["type"]: msg["msg"] for msg in messages}
    assert by_type["fill"]["subaccount"] == 1
    assert by_type["user_order"]["subaccount_number"] == 1
    assert by_type["market_position"]["subaccount"] == 1
    seen_since(spec_sim, before, "fill", "userOrder", "marketPosition")
