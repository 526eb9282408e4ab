"""The spec check itself can fail: real simulator bodies, spoiled one field at a time, are caught and named."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from tests.spec.conformance import Checker, ConformanceApp, openapi

from .conftest import EVENT, TICKERS, SpecSim

API = "/trade-api/v2"
REMOVE = object()


def check(method: str, path: str, status: int, body: Any) -> list[str]:
    checker = Checker()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    checker.check_response(method, API + path, status, raw)
    return [str(v) for v in checker.violations]


def test_a_real_market_passes_and_a_spoiled_one_is_named(spec_sim: SpecSim) -> None:
    path = f"/markets/{TICKERS[0]}"
    market = spec_sim.alice.get(path).json()
    assert check("GET", path, 200, market) == []

    missing = copy.deepcopy(market)
    del missing["market"]["event_ticker"]
    [error] = check("GET", path, 200, missing)
    assert error.startswith(f"GET /markets/{{ticker}} (GetMarket): {path} -> 200: at market:")
    assert "'event_ticker' is a required property" in error

    wrong_type = copy.deepcopy(market)
    wrong_type["market"]["yes_bid_dollars"] = 0.5  # a float where Kalshi sends a dollar string
    [error] = check("GET", path, 200, wrong_type)
    assert "at market/yes_bid_dollars" in error and "is not of type 'string'" in error


def test_a_status_the_operation_does_not_declare_is_a_violation(spec_sim: SpecSim) -> None:
    body = {"order_id": "x"}
    [error] = check("POST", "/portfolio/events/orders", 200, body)
    assert (
        "CreateOrderV2" in error and "status not declared (declared: 201, 400, 401, 409, 429, 500)" in error
    )


def test_error_bodies_are_held_to_the_spec_error_shape() -> None:
    assert (
        check("GET", "/markets/NOPE", 404, {"error": {"code": "not_found", "message": "m", "details": ""}})
        == []
    )
    [error] = check("GET", "/markets/NOPE", 404, [1, 2])
    assert "is not of type 'object'" in error
    [error] = check("GET", "/markets", 500, b"<html>oops</html>")
    assert "body is not JSON" in error


def test_a_route_the_spec_does_not_have_is_a_violation_unless_allowed() -> None:
    [error] = check("GET", "/portfolio/secret_sauce", 200, {})
    assert "no such operation in the OpenAPI spec" in error
    assert check("DELETE", "/portfolio/events/orders", 204, b"") == []  # cancel-all: allowed, with a reason
    checker = Checker()
    checker.check_response("GET", "/_sim/state", 200, b"[not checked")  # simulator controls: not Kalshi's API
    assert checker.violations == []


def test_websocket_messages_are_checked_by_type() -> None:
    checker = Checker()
    good = {
        "type": "ticker",
        "sid": 1,
        "msg": {
            "market_ticker": "KXHIGHNY-26DEC04-T46.5",  # a dot: the corrected pattern allows it
            "market_id": "9215c5e0-f730-46a5-ae63-55b871e7e11b",
            "price_dollars": "0.5000",
            "yes_bid_dollars": "0.4900",
            "yes_ask_dollars": "0.5100",
            "volume_fp": "10.00",
            "open_interest_fp": "5.00",
            "dollar_volume": 5,
            "dollar_open_interest": 2,
            "yes_bid_size_fp": "1.00",
            "yes_ask_size_fp": "1.00",
            "last_trade_size_fp": "1.00",
            "ts": 1764806400,
            "ts_ms": 1764806400000,
            "time": "2025-12-04T00:00:00Z",
        },
    }
    checker.check_ws_message(json.dumps(good))
    assert checker.violations == [] and checker.messages_seen == {"ticker"}

    bad = copy.deepcopy(good)
    del bad["msg"]["market_id"]
    checker.check_ws_message(json.dumps(bad))
    checker.check_ws_message(json.dumps({"type": "gossip", "msg": {}}))
    errors = [str(v) for v in checker.violations]
    assert "ws message 'ticker'" in errors[0] and "'market_id' is a required property" in errors[0]
    assert "no AsyncAPI message has this type" in errors[1]


def test_the_asgi_wrapper_sees_a_body_sent_in_chunks() -> None:
    checker = Checker()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"balance": ', "more_body": True})
        await send({"type": "http.response.body", "body": b'"lots"}'})

    sent: list[Any] = []

    async def collect(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": API + "/portfolio/balance"}
    asyncio.run(ConformanceApp(app, checker)(scope, None, collect))
    assert len(sent) == 3  # passed through untouched
    [violation] = checker.violations
    assert (violation.where, violation.path, violation.status) == (
        "GET /portfolio/balance (GetBalance)",
        "/portfolio/balance",
        200,
    )
    assert violation.error.startswith("at (body): ")  # 'balance' is an integer of cents, and more is missing


def test_a_204_is_checked_before_its_start_line_leaves_the_wrapper() -> None:
    """A server may finish a 204 on its start line (CI once saw the client holding the answer to
    DeleteApiKey before the check recorded it), so the check must not wait for the body message."""
    checker = Checker()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    seen_when_sent: list[bool] = []

    async def collect(message: Any) -> None:
        seen_when_sent.append(("DeleteApiKey", 204) in checker.operations_seen)

    scope = {"type": "http", "method": "DELETE", "path": API + "/api_keys/k-1"}
    asyncio.run(ConformanceApp(app, checker)(scope, None, collect))
    assert seen_when_sent == [True, True]
    assert checker.violations == [] and checker.responses_checked == 1


def test_an_empty_200_is_checked_before_its_start_line_leaves_the_wrapper() -> None:
    """The same for a 200 with Content-Length: 0 (UpdateSubaccountNetting: CI saw it unchecked)."""
    checker = Checker()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"Content-Length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    seen_when_sent: list[bool] = []

    async def collect(message: Any) -> None:
        seen_when_sent.append(("UpdateSubaccountNetting", 200) in checker.operations_seen)

    scope = {"type": "http", "method": "PUT", "path": API + "/portfolio/subaccounts/netting"}
    asyncio.run(ConformanceApp(app, checker)(scope, None, collect))
    assert seen_when_sent == [True, True]
    assert checker.responses_checked == 1


def test_the_fast_and_the_reference_validators_agree(spec_sim: SpecSim) -> None:
    """The Rust validator decides; the OpenAPI 3.0 one explains. Spoil each field of real bodies (null, a
    number, a string, removed) and both must give the same verdict (``nullable`` read the same way)."""
    spec = openapi()
    alice = spec_sim.alice
    alice.order(TICKERS[0], "bid", "1", "0.0500")
    bodies = [
        ("GET", f"/markets/{TICKERS[0]}", "market"),
        ("GET", f"/events/{EVENT}", "event"),
        ("GET", "/portfolio/orders", "orders"),
    ]
    checked = 0
    for method, path, key in bodies:
        body = alice.request(method, path).json()
        op, _ = spec.match(method, path)
        assert op is not None
        declared, validator = spec.response_validator(op, 200)
        assert declared and validator is not None
        target = body[key][0] if isinstance(body[key], list) else body[key]
        for field_name in list(target):
            for spoil in (None, 12345, "x", REMOVE):
                spoiled = copy.deepcopy(body)
                item = spoiled[key][0] if isinstance(spoiled[key], list) else spoiled[key]
                if spoil is REMOVE:
                    del item[field_name]
                else:
                    item[field_name] = spoil
                fast_ok = validator.fast.is_valid(spoiled)
                reference_ok = not list(validator.reference().iter_errors(spoiled))
                assert fast_ok == reference_ok, (path, field_name, spoil)
                checked += 1
    assert checked > 300
