"""Portfolio reads and V2 order writes over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import EVENT, TICKERS, Trader, add_markets


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None) as running:
        add_markets(running)
        yield running


@pytest.fixture
def alice(sim: RunningSimulator) -> Iterator[Trader]:
    trader = Trader(sim, Decimal("1000"))
    yield trader
    trader.close()


@pytest.fixture
def bob(sim: RunningSimulator) -> Iterator[Trader]:
    trader = Trader(sim, Decimal("1000"))
    yield trader
    trader.close()


def error_code(response: object) -> str:
    return response.json()["error"]["code"]  # type: ignore[attr-defined]


def test_create_rest_then_cancel(alice: Trader) -> None:
    created = alice.order(TICKERS[0], "bid", "10", "0.40", client_order_id="alice-1")
    assert created.status_code == 201
    body = created.json()
    assert body["client_order_id"] == "alice-1"
    assert body["fill_count"] == "0.00" and body["remaining_count"] == "10.00"
    assert isinstance(body["ts_ms"], int)
    order_id = body["order_id"]

    order = alice.get(f"/portfolio/orders/{order_id}").json()["order"]
    assert order["status"] == "resting" and order["yes_price_dollars"] == "0.4000"
    assert [o["order_id"] for o in alice.get("/portfolio/orders", status="resting").json()["orders"]] == [
        order_id
    ]

    canceled = alice.delete(f"/portfolio/events/orders/{order_id}")
    assert canceled.status_code == 200
    assert canceled.json()["reduced_by"] == "10.00" and canceled.json()["order_id"] == order_id
    assert alice.get(f"/portfolio/orders/{order_id}").json()["order"]["status"] == "canceled"
    assert alice.get("/portfolio/orders", status="resting").json()["orders"] == []
    assert alice.delete(f"/portfolio/events/orders/{order_id}").status_code in (400, 404)


def test_crossing_orders_fill(alice: Trader, bob: Trader) -> None:
    ticker = TICKERS[1]
    before = alice.get("/portfolio/balance").json()["balance"]
    assert alice.order(ticker, "bid", "10", "0.55").status_code == 201
    taker = bob.order(ticker, "ask", "4", "0.50", time_in_force="immediate_or_cancel")
    assert taker.status_code == 201
    assert taker.json()["fill_count"] == "4.00" and taker.json()["remaining_count"] == "0.00"
    assert taker.json()["average_fill_price"] == "0.4500"  # the ask bought NO at 1 - 0.55

    fills = alice.get("/portfolio/fills", ticker=ticker).json()["fills"]
    assert len(fills) == 1 and fills[0]["count_fp"] == "4.00" and fills[0]["yes_price_dollars"] == "0.5500"
    assert fills[0]["is_taker"] is False
    positions = alice.get("/portfolio/positions").json()
    assert [p["position_fp"] for p in positions["market_positions"] if p["ticker"] == ticker] == ["4.00"]
    assert positions["event_positions"][0]["event_ticker"] == EVENT
    bob_pos = bob.get("/portfolio/positions", ticker=ticker).json()["market_positions"]
    assert bob_pos[0]["position_fp"] == "-4.00"
    trades = bob.get("/markets/trades", ticker=ticker).json()["trades"]
    assert trades[0]["count_fp"] == "4.00" and trades[0]["taker_book_side"] == "ask"
    after = alice.get("/portfolio/balance").json()["balance"]
    assert after == before - 550  # 10 x 0.55 held for the order (4 filled, 6 resting)


def test_fills_filter_and_paginate(alice: Trader, bob: Trader) -> None:
    ticker = TICKERS[2]
    for _ in range(3):
        alice.order(ticker, "bid", "1", "0.50")
        bob.order(ticker, "ask", "1", "0.50")
    page = alice.get("/portfolio/fills", ticker=ticker, limit=2).json()
    assert len(page["fills"]) == 2 and page["cursor"]
    rest = alice.get("/portfolio/fills", ticker=ticker, limit=2, cursor=page["cursor"]).json()
    assert len(rest["fills"]) == 1 and rest["cursor"] == ""
    order_id = page["fills"][0]["order_id"]
    assert [f["order_id"] for f in alice.get("/portfolio/fills", order_id=order_id).json()["fills"]] == [
        order_id
    ]


def test_duplicate_client_order_id_is_409(alice: Trader) -> None:
    assert alice.order(TICKERS[0], "bid", "1", "0.10", client_order_id="dup").status_code == 201
    again = alice.order(TICKERS[0], "bid", "1", "0.10", client_order_id="dup")
    assert again.status_code == 409 and error_code(again) == "order_already_exists"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"price": "0.405"}, 400),
        ({"price": "1.00"}, 400),
        ({"price": 0.4}, 400),
        ({"count": 10}, 400),
        ({"count": "0"}, 400),
        ({"count": "1.234"}, 400),
        ({"count": "ten"}, 400),
        ({"time_in_force": "good_till_time"}, 400),
        ({"side": "yes"}, 400),
        ({"self_trade_prevention_type": None}, 400),
        ({"ticker": "NOPE"}, 404),
        ({"post_only": "yes"}, 400),
    ],
)
def test_bad_orders_are_rejected(alice: Trader, change: dict[str, object], status: int) -> None:
    body: dict[str, object] = {
        "ticker": TICKERS[0],
        "side": "bid",
        "count": "10",
        "price": "0.40",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = alice.post("/portfolio/events/orders", body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and all(isinstance(v, str) for v in error.values())


def test_malformed_json_and_missing_fields(alice: Trader) -> None:
    assert alice.post("/portfolio/events/orders", "{not json").status_code == 400
    assert alice.post("/portfolio/events/orders", "[1, 2]").status_code == 400
    assert alice.post("/portfolio/events/orders", {"ticker": TICKERS[0]}).status_code == 400


def test_amend_and_decrease(alice: Trader) -> None:
    order_id = alice.order(TICKERS[3], "bid", "10", "0.20", client_order_id="am-1").json()["order_id"]
    amended = alice.post(
        f"/portfolio/events/orders/{order_id}/amend",
        {
            "ticker": TICKERS[3],
            "side": "bid",
            "price": "0.25",
            "count": "8",
            "updated_client_order_id": "am-2",
        },
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["remaining_count"] == "8.00" and amended.json()["client_order_id"] == "am-2"
    decreased = alice.post(f"/portfolio/events/orders/{order_id}/decrease", {"reduce_by": "3"})
    assert decreased.status_code == 200 and decreased.json()["remaining_count"] == "5.00"
    decreased = alice.post(f"/portfolio/events/orders/{order_id}/decrease", {"reduce_to": "2.00"})
    assert decreased.json()["remaining_count"] == "2.00"
    both = alice.post(f"/portfolio/events/orders/{order_id}/decrease", {"reduce_by": "1", "reduce_to": "1"})
    assert both.status_code == 400
    mismatch = alice.post(
        f"/portfolio/events/orders/{order_id}/amend",
        {"ticker": TICKERS[3], "side": "ask", "price": "0.25", "count": "8"},
    )
    assert mismatch.status_code == 400 and error_code(mismatch) == "order_side_mismatch"
    assert alice.post("/portfolio/events/orders/nope/decrease", {"reduce_by": "1"}).status_code == 404


def test_batch_create_and_cancel(alice: Trader) -> None:
    good = {
        "ticker": TICKERS[4],
        "side": "bid",
        "count": "1",
        "price": "0.10",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
    }
    response = alice.post(
        "/portfolio/events/orders/batched",
        {"orders": [good, {**good, "price": "0.105", "client_order_id": "bad"}, {**good, "ticker": "NOPE"}]},
    )
    assert response.status_code == 201
    items = response.json()["orders"]
    assert items[0]["order_id"] and "error" not in items[0]
    assert items[1]["error"]["code"] == "invalid_order" and items[1]["client_order_id"] == "bad"
    assert items[2]["error"]["code"] == "not_found"
    canceled = alice.delete(
        "/portfolio/events/orders/batched",
        {"orders": [{"order_id": items[0]["order_id"]}, {"order_id": "nope"}]},
    )
    assert canceled.status_code == 200
    out = canceled.json()["orders"]
    assert out[0]["reduced_by"] == "1.00" and "error" not in out[0]
    assert out[1]["error"]["code"] == "not_found"
    assert alice.post("/portfolio/events/orders/batched", {"orders": []}).status_code == 400


def test_cancel_all(alice: Trader) -> None:
    for price in ("0.11", "0.12"):
        alice.order(TICKERS[5], "bid", "1", price)
    response = alice.delete("/portfolio/events/orders")
    assert response.status_code == 204 and response.content == b""
    assert alice.get("/portfolio/orders", status="resting").json()["orders"] == []


def test_orders_are_private(alice: Trader, bob: Trader) -> None:
    order_id = alice.order(TICKERS[0], "bid", "1", "0.05").json()["order_id"]
    assert bob.get(f"/portfolio/orders/{order_id}").status_code == 404
    assert bob.delete(f"/portfolio/events/orders/{order_id}").status_code == 404
    assert all(o["order_id"] != order_id for o in bob.get("/portfolio/orders").json()["orders"])


def test_settlement_shows_up(sim: RunningSimulator, alice: Trader, bob: Trader) -> None:
    ticker = TICKERS[6]
    alice.order(ticker, "bid", "2", "0.60")
    bob.order(ticker, "ask", "2", "0.60")
    sim.call(sim.exchange.settle_market, ticker, "yes")
    settlements = alice.get("/portfolio/settlements").json()["settlements"]
    assert settlements[0]["ticker"] == ticker and settlements[0]["revenue"] == 200
    assert alice.get("/portfolio/positions", ticker=ticker).json()["market_positions"] == []
    settled = alice.get("/portfolio/positions", ticker=ticker, settlement_status="settled").json()
    assert settled["market_positions"][0]["ticker"] == ticker
    closed = alice.order(ticker, "bid", "1", "0.50")
    assert closed.status_code == 400 and error_code(closed) == "MARKET_INACTIVE"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/portfolio/orders"),
        ("DELETE", "/portfolio/orders/abc"),
        ("POST", "/portfolio/orders/abc/amend"),
        ("POST", "/portfolio/orders/abc/decrease"),
        ("POST", "/portfolio/orders/batched"),
        ("DELETE", "/portfolio/orders/batched"),
    ],
)
def test_v1_writes_are_retired(alice: Trader, method: str, path: str) -> None:
    response = alice.request(method, path, body={"ticker": TICKERS[0]})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "deprecated_v1_order_endpoint",
            "message": "Please switch to the V2 endpoints",
            "details": "https://docs.kalshi.com/api-reference/orders/create-order-v2",
        }
    }


def test_account_limits(alice: Trader) -> None:
    body = alice.get("/account/limits").json()
    assert set(body) == {"usage_tier", "read", "write", "grants"}
