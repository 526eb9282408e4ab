"""Order groups (7 operations) and the account/limits reads (4), each answered by a freshly started simulator with
success and with an error, and checked against Kalshi's OpenAPI file; the `order_group_updates` messages the
group's life produces validate against the AsyncAPI file."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.simulator.simhelp import recv_until
from tests.simulator.simhelp import send as ws_send

from .conftest import TICKERS, SpecSim
from .test_rest_conformance import Case, order_body
from .test_rest_conformance import send as send_case

G = "/portfolio/order_groups/{order_group_id}"
NOPE = f"/portfolio/order_groups/{uuid.uuid4()}"

CASES = {
    "og-create": Case(
        "POST", "/portfolio/order_groups/create", 201, "CreateOrderGroup", body={"contracts_limit": 5}
    ),
    "og-create-fp": Case(
        "POST", "/portfolio/order_groups/create", 201, "CreateOrderGroup", body={"contracts_limit_fp": "7.00"}
    ),
    "og-create-400": Case(
        "POST", "/portfolio/order_groups/create", 400, "CreateOrderGroup", body={"contracts_limit": 0}
    ),
    "og-create-400-mismatch": Case(
        "POST",
        "/portfolio/order_groups/create",
        400,
        "CreateOrderGroup",
        body={"contracts_limit": 3, "contracts_limit_fp": "4.00"},
    ),
    "og-list": Case("GET", "/portfolio/order_groups", 200, "GetOrderGroups"),
    "og-list-401": Case("GET", "/portfolio/order_groups", 401, "GetOrderGroups", who="anonymous"),
    "og-get": Case("GET", G, 200, "GetOrderGroup"),
    "og-get-404": Case("GET", NOPE, 404, "GetOrderGroup"),
    "og-delete": Case("DELETE", G, 200, "DeleteOrderGroup"),
    "og-delete-404": Case("DELETE", NOPE, 404, "DeleteOrderGroup"),
    "og-reset": Case("PUT", G + "/reset", 200, "ResetOrderGroup"),
    "og-reset-404": Case("PUT", NOPE + "/reset", 404, "ResetOrderGroup"),
    "og-trigger": Case("PUT", G + "/trigger", 200, "TriggerOrderGroup"),
    "og-trigger-401": Case("PUT", G + "/trigger", 401, "TriggerOrderGroup", who="bad-signature"),
    "og-limit": Case("PUT", G + "/limit", 200, "UpdateOrderGroupLimit", body={"contracts_limit_fp": "9.00"}),
    "og-limit-400": Case("PUT", G + "/limit", 400, "UpdateOrderGroupLimit", body={}),
    "user-data-ts": Case("GET", "/exchange/user_data_timestamp", 200, "GetUserDataTimestamp"),
    "user-data-ts-500": Case(
        "GET", "/exchange/user_data_timestamp", 500, "GetUserDataTimestamp", fault="500"
    ),
    "resting-value": Case(
        "GET", "/portfolio/summary/total_resting_order_value", 200, "GetPortfolioRestingOrderTotalValue"
    ),
    "resting-value-401": Case(
        "GET",
        "/portfolio/summary/total_resting_order_value",
        401,
        "GetPortfolioRestingOrderTotalValue",
        who="anonymous",
    ),
    "endpoint-costs": Case("GET", "/account/endpoint_costs", 200, "GetAccountEndpointCosts", who="anonymous"),
    "endpoint-costs-500": Case("GET", "/account/endpoint_costs", 500, "GetAccountEndpointCosts", fault="500"),
    "volume-progress": Case(
        "GET", "/account/api_usage_level/volume_progress", 200, "GetAccountApiUsageLevelVolumeProgress"
    ),
    "volume-progress-401": Case(
        "GET",
        "/account/api_usage_level/volume_progress",
        401,
        "GetAccountApiUsageLevelVolumeProgress",
        who="anonymous",
    ),
}


def new_group(spec: SpecSim, limit: int = 5) -> str:
    response = spec.alice.post("/portfolio/order_groups/create", {"contracts_limit": limit})
    assert response.status_code == 201, response.text
    return str(response.json()["order_group_id"])


def send(spec: SpecSim, case: Case) -> httpx.Response:
    if "{order_group_id}" in case.path:
        group_id = new_group(spec)
        # a resting order in the group, so GET lists it and DELETE/trigger have something to cancel
        placed = spec.alice.post("/portfolio/events/orders", order_body(order_group_id=group_id))
        assert placed.status_code == 201, placed.text
        case = Case(**{**case.__dict__, "path": case.path.replace("{order_group_id}", group_id)})
    return send_case(spec, case)


@pytest.mark.parametrize("name", list(CASES))
def test_each_operation_answers_as_the_spec_says(spec_sim: SpecSim, name: str) -> None:
    case = CASES[name]
    before = len(spec_sim.checker.violations)
    response = send(spec_sim, case)
    assert response.status_code == case.status, response.text
    assert spec_sim.checker.violations[before:] == []
    assert (case.operation, case.status) in spec_sim.checker.operations_seen


def test_the_group_reads_say_what_the_group_holds(spec_sim: SpecSim) -> None:
    alice = spec_sim.alice
    group_id = new_group(spec_sim, 3)
    order = alice.post("/portfolio/events/orders", order_body(order_group_id=group_id)).json()
    detail = alice.get(f"/portfolio/order_groups/{group_id}").json()
    assert detail["orders"] == [order["order_id"]]
    assert detail["contracts_limit_fp"] == "3.00"
    listed = {g["id"]: g for g in alice.get("/portfolio/order_groups").json()["order_groups"]}
    assert listed[group_id]["contracts_limit_fp"] == "3.00"
    assert group_id not in {
        g["id"] for g in spec_sim.bob.get("/portfolio/order_groups").json()["order_groups"]
    }
    assert spec_sim.bob.get(f"/portfolio/order_groups/{group_id}").status_code == 404


def test_a_triggered_group_refuses_orders_until_reset(spec_sim: SpecSim) -> None:
    alice = spec_sim.alice
    group_id = new_group(spec_sim)
    assert alice.request("PUT", f"/portfolio/order_groups/{group_id}/trigger").status_code == 200
    refused = alice.post("/portfolio/events/orders", order_body(order_group_id=group_id))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "order_group_triggered"
    assert alice.request("PUT", f"/portfolio/order_groups/{group_id}/reset").status_code == 200
    assert alice.post("/portfolio/events/orders", order_body(order_group_id=group_id)).status_code == 201


def test_resting_order_value_counts_the_collateral_of_resting_orders(spec_sim: SpecSim) -> None:
    alice = spec_sim.alice
    before = alice.get("/portfolio/summary/total_resting_order_value").json()["total_resting_order_value"]
    alice.post("/portfolio/events/orders", order_body(ticker=TICKERS[2], count="10.00", price="0.2000"))
    after = alice.get("/portfolio/summary/total_resting_order_value").json()
    assert after["total_resting_order_value"] == before + 200  # 10 x $0.20, in cents
    assert after["resting_order_value_breakdown"][0]["exchange_index"] == 0


def test_endpoint_costs_list_the_cheap_cancels(spec_sim: SpecSim) -> None:
    costs = spec_sim.alice.get("/account/endpoint_costs").json()
    assert costs["default_cost"] == 10
    assert {
        "method": "DELETE",
        "path": "/trade-api/v2/portfolio/events/orders/{order_id}",
        "cost": 2,
    } in costs["endpoint_costs"]


async def test_order_group_updates_messages_validate_against_asyncapi(spec_sim: SpecSim) -> None:
    alice = spec_sim.alice
    before = len(spec_sim.checker.violations)
    async with alice.connect() as ws:
        await ws_send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["order_group_updates"]}})
        await recv_until(ws, lambda m: m.get("type") == "subscribed")
        group_id = new_group(spec_sim, 4)
        for action in ("trigger", "reset"):
            assert alice.request("PUT", f"/portfolio/order_groups/{group_id}/{action}").status_code == 200
        limit = alice.request("PUT", f"/portfolio/order_groups/{group_id}/limit", body={"contracts_limit": 6})
        assert limit.status_code == 200
        assert alice.request("DELETE", f"/portfolio/order_groups/{group_id}").status_code == 200
        messages = [await recv_until(ws, lambda m: m.get("type") == "order_group_updates") for _ in range(5)]
    assert [m["msg"]["event_type"] for m in messages] == [
        "created",
        "triggered",
        "reset",
        "limit_updated",
        "deleted",
    ]
    assert {m["msg"]["order_group_id"] for m in messages} == {group_id}
    assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
    assert messages[0]["msg"]["contracts_limit_fp"] == "4.00"
    assert messages[3]["msg"]["contracts_limit_fp"] == "6.00"
    assert "contracts_limit_fp" not in messages[1]["msg"]
    assert spec_sim.checker.violations[before:] == []
    assert "orderGroupUpdates" in spec_sim.checker.messages_seen


# The spec operations this feature adds to the simulator (tests/spec/test_rest_conformance.py checks the list).
IMPLEMENTED = {
    "CreateOrderGroup",
    "GetOrderGroups",
    "GetOrderGroup",
    "DeleteOrderGroup",
    "ResetOrderGroup",
    "TriggerOrderGroup",
    "UpdateOrderGroupLimit",
    "GetUserDataTimestamp",
    "GetPortfolioRestingOrderTotalValue",
    "GetAccountApiUsageLevelVolumeProgress",
    "GetAccountEndpointCosts",
}
