"""Each REST operation the simulator serves, answered once with success and once with an error, checked against
Kalshi's OpenAPI file (the suite-wide check fails a test on any violation; these tests also assert the
operation and status were seen, so coverage does not depend on what other tests happen to call)."""

from __future__ import annotations

import importlib
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simulator.simhelp import API, Trader, sign_headers
from tests.spec.conformance import ALLOWED_UNDOCUMENTED, SPEC_DIR, openapi

from .conftest import EVENT, TICKERS, SpecSim

T0, T1 = TICKERS[0], TICKERS[1]
SERIES = "KXSIM"  # tests.simulator.simhelp.add_markets puts every market in this series


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # may hold {order_id}: a fresh resting order of Alice's is placed for the case
    status: int
    operation: str | None  # the spec's operationId; None for the simulator's undocumented routes
    body: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    who: str = "alice"  # alice | anonymous | bad-signature
    fault: str | None = None  # "500" / "429": the simulator's injected failure for this one request


def order_body(**extra: Any) -> dict[str, Any]:
    return {
        "ticker": T0,
        "side": "bid",
        "count": "1.00",
        "price": "0.0500",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
        **extra,
    }


NOW = int(time.time())
CANDLES = {"start_ts": NOW - 3600, "end_ts": NOW, "period_interval": 1}

CASES = {
    # exchange
    "status": Case("GET", "/exchange/status", 200, "GetExchangeStatus", who="anonymous"),
    "status-500": Case("GET", "/exchange/status", 500, "GetExchangeStatus", fault="500"),
    "schedule": Case("GET", "/exchange/schedule", 200, "GetExchangeSchedule", who="anonymous"),
    "schedule-401": Case("GET", "/exchange/schedule", 401, "GetExchangeSchedule", who="bad-signature"),
    # markets
    "markets": Case("GET", "/markets", 200, "GetMarkets", params={"limit": 2}),
    "markets-400": Case("GET", "/markets", 400, "GetMarkets", params={"limit": "many"}),
    "markets-429": Case("GET", "/markets", 429, "GetMarkets", fault="429"),
    "market": Case("GET", f"/markets/{T0}", 200, "GetMarket"),
    "market-404": Case("GET", "/markets/KXNOPE-1", 404, "GetMarket"),
    "orderbook": Case("GET", f"/markets/{T0}/orderbook", 200, "GetMarketOrderbook", params={"depth": 5}),
    "orderbook-404": Case("GET", "/markets/KXNOPE-1/orderbook", 404, "GetMarketOrderbook"),
    "orderbooks": Case("GET", "/markets/orderbooks", 200, "GetMarketOrderbooks", params={"tickers": T0}),
    "orderbooks-400": Case("GET", "/markets/orderbooks", 400, "GetMarketOrderbooks"),
    "trades": Case("GET", "/markets/trades", 200, "GetTrades", params={"ticker": T0}),
    "trades-400": Case("GET", "/markets/trades", 400, "GetTrades", params={"cursor": "%%%"}),
    "candles": Case(
        "GET", f"/series/{SERIES}/markets/{T0}/candlesticks", 200, "GetMarketCandlesticks", params=CANDLES
    ),
    "candles-400": Case("GET", f"/series/{SERIES}/markets/{T0}/candlesticks", 400, "GetMarketCandlesticks"),
    "batch-candles": Case(
        "GET",
        "/markets/candlesticks",
        200,
        "BatchGetMarketCandlesticks",
        params={"market_tickers": f"{T0},{T1}", **CANDLES},
    ),
    "batch-candles-400": Case("GET", "/markets/candlesticks", 400, "BatchGetMarketCandlesticks"),
    # events and series
    "events": Case("GET", "/events", 200, "GetEvents", params={"with_nested_markets": "true"}),
    "events-400": Case("GET", "/events", 400, "GetEvents", params={"status": "sideways"}),
    "event": Case("GET", f"/events/{EVENT}", 200, "GetEvent"),
    "event-404": Case("GET", "/events/KXNOPE", 404, "GetEvent"),
    "series-list": Case("GET", "/series", 200, "GetSeriesList"),
    "series-list-401": Case("GET", "/series", 401, "GetSeriesList", who="bad-signature"),
    "series": Case("GET", f"/series/{SERIES}", 200, "GetSeries"),
    "series-404": Case("GET", "/series/KXNOPE", 404, "GetSeries"),
    # portfolio and account
    "balance": Case("GET", "/portfolio/balance", 200, "GetBalance"),
    "balance-401": Case("GET", "/portfolio/balance", 401, "GetBalance", who="anonymous"),
    "positions": Case("GET", "/portfolio/positions", 200, "GetPositions"),
    "positions-400": Case("GET", "/portfolio/positions", 400, "GetPositions", params={"count_filter": "x"}),
    "fills": Case("GET", "/portfolio/fills", 200, "GetFills"),
    "fills-401": Case("GET", "/portfolio/fills", 401, "GetFills", who="bad-signature"),
    "settlements": Case("GET", "/portfolio/settlements", 200, "GetSettlements"),
    "settlements-401": Case("GET", "/portfolio/settlements", 401, "GetSettlements", who="anonymous"),
    "orders": Case("GET", "/portfolio/orders", 200, "GetOrders"),
    "orders-400": Case("GET", "/portfolio/orders", 400, "GetOrders", params={"status": "sleeping"}),
    "order": Case("GET", "/portfolio/orders/{order_id}", 200, "GetOrder"),
    "order-404": Case("GET", f"/portfolio/orders/{uuid.uuid4()}", 404, "GetOrder"),
    "limits": Case("GET", "/account/limits", 200, "GetAccountApiLimits"),
    "limits-401": Case("GET", "/account/limits", 401, "GetAccountApiLimits", who="anonymous"),
    "api-keys": Case("GET", "/api_keys", 200, "GetApiKeys"),
    "api-keys-401": Case("GET", "/api_keys", 401, "GetApiKeys", who="anonymous"),
    # order writes (V2)
    "create": Case("POST", "/portfolio/events/orders", 201, "CreateOrderV2", body=order_body()),
    "create-400": Case("POST", "/portfolio/events/orders", 400, "CreateOrderV2", body=order_body(count="0")),
    "create-409": Case(
        "POST", "/portfolio/events/orders", 409, "CreateOrderV2", body=order_body(client_order_id="dup-1")
    ),
    "batch-create": Case(
        "POST",
        "/portfolio/events/orders/batched",
        201,
        "BatchCreateOrdersV2",
        body={"orders": [order_body(), order_body(price="2")]},  # the second fails on its own
    ),
    "batch-create-400": Case(
        "POST", "/portfolio/events/orders/batched", 400, "BatchCreateOrdersV2", body={"orders": []}
    ),
    "batch-cancel": Case(
        "DELETE",
        "/portfolio/events/orders/batched",
        200,
        "BatchCancelOrdersV2",
        body={"orders": [{"order_id": "{order_id}"}, {"order_id": str(uuid.uuid4())}]},
    ),
    "batch-cancel-400": Case(
        "DELETE", "/portfolio/events/orders/batched", 400, "BatchCancelOrdersV2", body={"orders": "all"}
    ),
    "cancel": Case("DELETE", "/portfolio/events/orders/{order_id}", 200, "CancelOrderV2"),
    "cancel-404": Case("DELETE", f"/portfolio/events/orders/{uuid.uuid4()}", 404, "CancelOrderV2"),
    "amend": Case(
        "POST",
        "/portfolio/events/orders/{order_id}/amend",
        200,
        "AmendOrderV2",
        body={"ticker": T0, "side": "bid", "price": "0.0600", "count": "2.00"},
    ),
    "amend-404": Case(
        "POST",
        f"/portfolio/events/orders/{uuid.uuid4()}/amend",
        404,
        "AmendOrderV2",
        body={"ticker": T0, "side": "bid", "price": "0.0600", "count": "2.00"},
    ),
    "decrease": Case(
        "POST",
        "/portfolio/events/orders/{order_id}/decrease",
        200,
        "DecreaseOrderV2",
        body={"reduce_to": "0"},
    ),
    "decrease-400": Case(
        "POST", "/portfolio/events/orders/{order_id}/decrease", 400, "DecreaseOrderV2", body={}
    ),
    # the simulator's routes that are not in the spec (ALLOWED_UNDOCUMENTED says why)
    "cancel-all": Case("DELETE", "/portfolio/events/orders", 204, None),
    "cancel-all-401": Case("DELETE", "/portfolio/events/orders", 401, None, who="anonymous"),
    "v1-create": Case("POST", "/portfolio/orders", 400, None, body=order_body()),
    "v1-batch-create": Case("POST", "/portfolio/orders/batched", 400, None, body={"orders": []}),
    "v1-batch-cancel": Case("DELETE", "/portfolio/orders/batched", 400, None, body={"orders": []}),
    "v1-cancel": Case("DELETE", "/portfolio/orders/{order_id}", 400, None),
    "v1-amend": Case("POST", "/portfolio/orders/{order_id}/amend", 400, None, body={}),
    "v1-decrease": Case("POST", "/portfolio/orders/{order_id}/decrease", 400, None, body={}),
    # anywhere
    "unknown-path": Case("GET", "/no/such/thing", 404, None),
    "wrong-method": Case("PUT", "/markets", 405, None),
}


def place_resting_order(trader: Trader) -> str:
    response = trader.post("/portfolio/events/orders", order_body())
    assert response.status_code == 201, response.text
    return str(response.json()["order_id"])


def send(spec: SpecSim, case: Case) -> httpx.Response:
    trader = spec.alice
    path = case.path
    body = case.body
    if "{order_id}" in path or "{order_id}" in repr(body):
        order_id = place_resting_order(trader)
        path = path.replace("{order_id}", order_id)
        if "{order_id}" in repr(body):
            body = {"orders": [{"order_id": order_id}, *body["orders"][1:]]}
    if case.operation == "CreateOrderV2" and case.status == 409:
        assert trader.post("/portfolio/events/orders", body).status_code == 201
    if case.fault:
        spec.sim.faults.fail_next(1, case.fault, path)
    if case.who == "alice":
        return trader.request(case.method, path, body=body, params=case.params or None)
    headers = {}
    if case.who == "bad-signature":
        headers = sign_headers(trader.key_id, trader.private_pem, case.method, API + path + "/elsewhere")
    return trader.http.request(case.method, path, params=case.params or None, headers=headers)


@pytest.mark.parametrize("name", list(CASES))
def test_each_operation_answers_as_the_spec_says(spec_sim: SpecSim, name: str) -> None:
    case = CASES[name]
    before = len(spec_sim.checker.violations)
    response = send(spec_sim, case)
    assert response.status_code == case.status, response.text
    assert spec_sim.checker.violations[before:] == []
    if case.operation is not None:
        assert (case.operation, case.status) in spec_sim.checker.operations_seen


def _ops_modules() -> list[Any]:
    """The per-feature operation tests (tests/spec/test_ops_*.py): each has CASES and IMPLEMENTED."""
    return [
        importlib.import_module(f"tests.spec.{p.stem}")
        for p in sorted(Path(__file__).parent.glob("test_ops_*.py"))
    ]


def all_cases() -> list[Case]:
    return [*CASES.values(), *(c for m in _ops_modules() for c in m.CASES.values())]


def all_implemented() -> set[str]:
    return IMPLEMENTED.union(*(m.IMPLEMENTED for m in _ops_modules()))


def test_every_simulator_route_has_a_success_and_an_error_case(spec_sim: SpecSim) -> None:
    covered: dict[tuple[str, str], set[int]] = {}
    for case in all_cases():
        for route in spec_sim.sim.app.routes:
            concrete = case.path.replace("{order_id}", str(uuid.uuid4()))
            if route.method == case.method and route.pattern.fullmatch(concrete):
                covered.setdefault((route.method, route.pattern.pattern), set()).add(case.status)
    missing = []
    for route in spec_sim.sim.app.routes:
        statuses = covered.get((route.method, route.pattern.pattern), set())
        retired_v1 = route.pattern.pattern.startswith("/portfolio/orders") and route.method != "GET"
        if not retired_v1 and not (any(s < 300 for s in statuses) and any(s >= 400 for s in statuses)):
            missing.append(f"{route.method} {route.pattern.pattern}: {sorted(statuses)}")
        elif retired_v1 and not statuses:
            missing.append(f"{route.method} {route.pattern.pattern}: no case")
    assert missing == []


def _sample(pattern: str) -> str:
    """A concrete path for a route regex such as /markets/(?P<ticker>[^/]+)."""
    return re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "X1", pattern)


def _template_regex(template: str) -> str:
    return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)


def simulator_operations(spec_sim: SpecSim) -> tuple[set[str], set[tuple[str, str]]]:
    """The spec operations the simulator serves, and its routes that are not operations of the spec."""
    implemented: set[str] = set()
    undocumented: set[tuple[str, str]] = set()
    for route in spec_sim.sim.app.routes:
        op, _template = openapi().match(route.method, _sample(route.pattern.pattern))
        if op is not None:
            implemented.add(op.operation_id)
        else:
            undocumented.add((route.method, route.pattern.pattern))
    return implemented, undocumented


IMPLEMENTED = {
    "GetExchangeStatus",
    "GetExchangeSchedule",
    "GetMarkets",
    "GetMarket",
    "GetMarketOrderbook",
    "GetMarketOrderbooks",
    "GetTrades",
    "GetMarketCandlesticks",
    "BatchGetMarketCandlesticks",
    "GetEvents",
    "GetEvent",
    "GetSeriesList",
    "GetSeries",
    "GetBalance",
    "GetPositions",
    "GetFills",
    "GetSettlements",
    "GetOrders",
    "GetOrder",
    "GetAccountApiLimits",
    "GetApiKeys",
    "CreateOrderV2",
    "BatchCreateOrdersV2",
    "BatchCancelOrdersV2",
    "CancelOrderV2",
    "AmendOrderV2",
    "DecreaseOrderV2",
}


def test_the_list_of_implemented_operations_is_current(spec_sim: SpecSim) -> None:
    implemented, undocumented = simulator_operations(spec_sim)
    assert implemented == all_implemented()
    allowed = {(m, _template_regex(t)) for m, t in ALLOWED_UNDOCUMENTED}
    assert undocumented <= allowed, undocumented - allowed


def test_the_readme_lists_what_is_and_is_not_implemented() -> None:
    readme = (SPEC_DIR / "README.md").read_text()
    listed_yes = re.findall(
        r"^- `(\w+)` — ", readme.split("## REST operations the simulator implements")[1].split("##")[0], re.M
    )
    listed_no = re.findall(
        r"^- `(\w+)` — ", readme.split("## REST operations the simulator does not")[1].split("##")[0], re.M
    )
    everything = {op.operation_id for op in openapi().operations}
    assert set(listed_yes) == all_implemented()
    assert set(listed_no) == everything - all_implemented()
