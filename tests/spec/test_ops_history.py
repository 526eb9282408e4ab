"""Issue #15 (history): the historical-data, queue-position and cash-history operations, each answered once with
success and once with an error against a freshly started simulator, checked against Kalshi's OpenAPI file.

Before the cases run, one market (ARCHIVED, alone in its event) is traded and settled and the cutoff is moved past it, so the
historical endpoints have something to serve; the live endpoints must then leave those records out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.simulator.simhelp import Trader, add_markets
from tests.spec.test_rest_conformance import NOW, Case, send

from .conftest import EVENT, TICKERS, SpecSim

T0 = TICKERS[0]
OLD_EVENT = "KXSPECOLD-26DEC31"
ARCHIVED = f"{OLD_EVENT}-T0"  # the only market of its event: the event's positions move to /historical too
CANDLES = {"start_ts": NOW - 3600, "end_ts": NOW + 3600, "period_interval": 1}

CASES = {
    "cutoff": Case("GET", "/historical/cutoff", 200, "GetHistoricalCutoff", who="anonymous"),
    "cutoff-500": Case("GET", "/historical/cutoff", 500, "GetHistoricalCutoff", fault="500"),
    "h-markets": Case(
        "GET", "/historical/markets", 200, "GetHistoricalMarkets", params={"event_ticker": OLD_EVENT}
    ),
    "h-markets-400": Case(
        "GET",
        "/historical/markets",
        400,
        "GetHistoricalMarkets",
        params={"tickers": T0, "event_ticker": EVENT},
    ),
    "h-market": Case("GET", f"/historical/markets/{ARCHIVED}", 200, "GetHistoricalMarket"),
    "h-market-404": Case("GET", f"/historical/markets/{T0}", 404, "GetHistoricalMarket"),
    "h-candles": Case(
        "GET",
        f"/historical/markets/{ARCHIVED}/candlesticks",
        200,
        "GetMarketCandlesticksHistorical",
        params=CANDLES,
    ),
    "h-candles-400": Case(
        "GET", f"/historical/markets/{ARCHIVED}/candlesticks", 400, "GetMarketCandlesticksHistorical"
    ),
    "h-trades": Case("GET", "/historical/trades", 200, "GetTradesHistorical", params={"ticker": ARCHIVED}),
    "h-trades-400": Case("GET", "/historical/trades", 400, "GetTradesHistorical", params={"cursor": "%%%"}),
    "h-fills": Case("GET", "/historical/fills", 200, "GetFillsHistorical"),
    "h-fills-401": Case("GET", "/historical/fills", 401, "GetFillsHistorical", who="anonymous"),
    "h-orders": Case("GET", "/historical/orders", 200, "GetHistoricalOrders"),
    "h-orders-401": Case("GET", "/historical/orders", 401, "GetHistoricalOrders", who="bad-signature"),
    "h-positions": Case("GET", "/historical/positions", 200, "GetHistoricalPositions"),
    "h-positions-401": Case("GET", "/historical/positions", 401, "GetHistoricalPositions", who="anonymous"),
    "queue-position": Case(
        "GET", "/portfolio/orders/{order_id}/queue_position", 200, "GetOrderQueuePosition"
    ),
    "queue-position-404": Case(
        "GET", f"/portfolio/orders/{uuid.uuid4()}/queue_position", 404, "GetOrderQueuePosition"
    ),
    "queue-positions": Case(
        "GET",
        "/portfolio/orders/queue_positions",
        200,
        "GetOrderQueuePositions",
        params={"market_tickers": T0},
    ),
    "queue-positions-400": Case(
        "GET", "/portfolio/orders/queue_positions", 400, "GetOrderQueuePositions", params={"subaccount": "x"}
    ),
    "deposits": Case("GET", "/portfolio/deposits", 200, "GetDeposits"),
    "deposits-400": Case("GET", "/portfolio/deposits", 400, "GetDeposits", params={"limit": 501}),
    "withdrawals": Case("GET", "/portfolio/withdrawals", 200, "GetWithdrawals"),
    "withdrawals-401": Case("GET", "/portfolio/withdrawals", 401, "GetWithdrawals", who="anonymous"),
}

IMPLEMENTED = {case.operation for case in CASES.values() if case.operation}


def sim_post(spec: SpecSim, path: str, body: dict[str, object]) -> dict[str, object]:
    base = spec.sim.rest_base.split("/trade-api")[0]
    response = httpx.post(base + path, json=body, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def archived(spec_sim: SpecSim) -> Iterator[SpecSim]:
    """Alice buys from Bob in ARCHIVED, it settles, Alice withdraws $5, and the cutoff moves past all that."""
    alice, bob = spec_sim.alice, spec_sim.bob
    add_markets(spec_sim.sim, [ARCHIVED], event=OLD_EVENT)
    assert bob.order(ARCHIVED, "ask", "3", "0.4000").status_code == 201
    assert alice.order(ARCHIVED, "bid", "3", "0.4000").status_code == 201
    assert sim_post(spec_sim, f"/_sim/markets/{ARCHIVED}/settle", {"result": "yes"})
    sim_post(spec_sim, "/_sim/cash/withdraw", {"key_id": alice.key_id, "amount": "5.00"})
    time.sleep(0.3)  # the simulator's clock ticks past the settlement
    sim_post(spec_sim, "/_sim/historical/cutoff", {})
    yield spec_sim


@pytest.mark.parametrize("name", list(CASES))
def test_each_history_operation_answers_as_the_spec_says(archived: SpecSim, name: str) -> None:
    case = CASES[name]
    before = len(archived.checker.violations)
    response = send(archived, case)
    assert response.status_code == case.status, response.text
    assert archived.checker.violations[before:] == []
    assert (case.operation, case.status) in archived.checker.operations_seen


def test_archived_records_leave_the_live_endpoints_and_appear_in_the_historical_ones(
    archived: SpecSim,
) -> None:
    alice = archived.alice
    live_markets = {m["ticker"] for m in alice.get("/markets", limit=1000).json()["markets"]}
    assert ARCHIVED not in live_markets and T0 in live_markets
    assert alice.get(f"/markets/{ARCHIVED}").status_code == 404
    assert [m["ticker"] for m in alice.get("/historical/markets").json()["markets"]] == [ARCHIVED]
    assert alice.get(f"/historical/markets/{ARCHIVED}").json()["market"]["result"] == "yes"

    live_fills = alice.get("/portfolio/fills", ticker=ARCHIVED).json()["fills"]
    old_fills = alice.get("/historical/fills", ticker=ARCHIVED).json()["fills"]
    assert live_fills == []
    assert [Decimal(f["count_fp"]) for f in old_fills] == [Decimal(3)]
    assert alice.get("/markets/trades", ticker=ARCHIVED).json()["trades"] == []
    assert len(alice.get("/historical/trades", ticker=ARCHIVED).json()["trades"]) == 1

    assert [p["ticker"] for p in alice.get("/historical/positions").json()["market_positions"]] == [ARCHIVED]
    live_positions = alice.get("/portfolio/positions", settlement_status="all").json()["market_positions"]
    assert ARCHIVED not in {p["ticker"] for p in live_positions}
    old_orders = alice.get("/historical/orders", ticker=ARCHIVED).json()["orders"]
    assert [o["status"] for o in old_orders] == ["executed"]
    assert alice.get("/portfolio/orders", ticker=ARCHIVED).json()["orders"] == []
    assert alice.get(f"/portfolio/orders/{old_orders[0]['order_id']}").status_code == 404

    candles = alice.get(f"/historical/markets/{ARCHIVED}/candlesticks", **CANDLES).json()["candlesticks"]
    assert any(c["price"]["close"] == "0.4000" for c in candles)


def test_the_cutoff_never_moves_back(archived: SpecSim) -> None:
    first = httpx.get(archived.sim.rest_base + "/historical/cutoff").json()["trades_created_ts"]
    sim_post(archived, "/_sim/historical/cutoff", {"ts": 1_000_000_000})
    assert httpx.get(archived.sim.rest_base + "/historical/cutoff").json()["trades_created_ts"] == first


def test_queue_position_counts_the_contracts_ahead_at_the_same_price(archived: SpecSim) -> None:
    alice, bob, carol = archived.alice, archived.bob, Trader(archived.sim)
    ticker = TICKERS[2]
    assert bob.order(ticker, "bid", "4", "0.2000").status_code == 201
    assert bob.order(ticker, "bid", "9", "0.2100").status_code == 201  # better price: not in the queue
    mine = alice.order(ticker, "bid", "2", "0.2000").json()["order_id"]
    assert alice.get(f"/portfolio/orders/{mine}/queue_position").json() == {"queue_position_fp": "4.00"}
    # Carol sells 12: she takes the 9 at 0.21 and 3 of Bob's 4 at 0.20: one contract is left ahead of Alice
    assert carol.order(ticker, "ask", "12", "0.2000", time_in_force="immediate_or_cancel").status_code == 201
    rows = alice.get("/portfolio/orders/queue_positions", market_tickers=ticker).json()["queue_positions"]
    assert rows == [{"order_id": mine, "market_ticker": ticker, "queue_position_fp": "1.00"}]


def test_cash_history_lists_the_opening_deposit_and_a_withdrawal(archived: SpecSim) -> None:
    alice = archived.alice
    deposits = alice.get("/portfolio/deposits").json()["deposits"]
    withdrawals = alice.get("/portfolio/withdrawals").json()["withdrawals"]
    assert [(d["amount_cents"], d["status"]) for d in deposits] == [(100000, "applied")]
    assert [w["amount_cents"] for w in withdrawals] == [500]
    too_much = httpx.post(
        archived.sim.rest_base.split("/trade-api")[0] + "/_sim/cash/withdraw",
        json={"key_id": alice.key_id, "amount": "1000000"},
    )
    assert too_much.status_code == 400
    assert len(alice.get("/portfolio/withdrawals").json()["withdrawals"]) == 1
