"""Each fault switch does what it says, observed from a real client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from kalshiweb.simulator.server import Request
from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import RawWs, Trader, add_markets, drain, recv, send, sign_headers

TICKERS = [f"KXFAULT-{i}" for i in range(6)]


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None, ping_interval=0.2) as running:
        add_markets(running, TICKERS, event="KXFAULT")
        yield running


@pytest.fixture(autouse=True)
def clean_faults(sim: RunningSimulator) -> Iterator[None]:
    sim.faults.reset()
    yield
    sim.faults.reset()


@pytest.fixture
def alice(sim: RunningSimulator) -> Iterator[Trader]:
    trader = Trader(sim)
    yield trader
    trader.close()


def control(sim: RunningSimulator, path: str, **params: Any) -> httpx.Response:
    return httpx.post(f"http://{sim.host}:{sim.port}/_sim/{path}", params=params, timeout=5)


async def subscribe_book(ws: Any, ticker: str) -> int:
    await send(
        ws,
        {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ticker": ticker}},
    )
    sid = (await recv(ws))["msg"]["sid"]
    assert (await recv(ws))["seq"] == 1
    return int(sid)


async def test_drop_connections_closes_every_socket(sim: RunningSimulator, alice: Trader) -> None:
    async with alice.connect() as ws1, alice.connect() as ws2:
        await send(ws1, {"id": 1, "cmd": "list_subscriptions"})
        await recv(ws1)
        assert sim.faults.drop_connections() >= 2
        for ws in (ws1, ws2):
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
    async with alice.connect() as ws:
        await send(ws, {"id": 1, "cmd": "list_subscriptions"})
        await recv(ws)
        assert control(sim, "faults/drop_connections").json()["dropped"] >= 1
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def test_skip_seq_leaves_a_gap_of_one(sim: RunningSimulator, alice: Trader) -> None:
    async with alice.connect() as ws:
        await subscribe_book(ws, TICKERS[0])
        assert sim.faults.skip_seq() >= 1
        alice.order(TICKERS[0], "bid", "1", "0.10")
        alice.order(TICKERS[0], "bid", "1", "0.11")
        seqs = [m["seq"] for m in await drain(ws) if m["type"] == "orderbook_delta"]
        assert seqs == [3, 4]


async def test_silence_stops_data_but_not_pings(sim: RunningSimulator, alice: Trader) -> None:
    raw = await RawWs.open(sim.ws_url, alice.ws_headers())
    try:
        raw.send_text(
            json.dumps(
                {
                    "id": 1,
                    "cmd": "subscribe",
                    "params": {"channels": ["orderbook_delta"], "market_ticker": TICKERS[1]},
                }
            )
        )
        texts = [f for f in await raw.frames(0.3) if f.opcode.name == "TEXT"]
        assert len(texts) == 2  # subscribed + snapshot
        sim.faults.silence(True)
        alice.order(TICKERS[1], "bid", "1", "0.10")
        frames = await raw.frames(0.7)
        assert [f.opcode.name for f in frames if f.opcode.name == "TEXT"] == []
        assert sum(f.opcode.name == "PING" for f in frames) >= 2
        raw.send_text(json.dumps({"id": 2, "cmd": "list_subscriptions"}))  # replies still flow
        replies = [json.loads(f.data) for f in await raw.frames(0.3) if f.opcode.name == "TEXT"]
        assert [r["id"] for r in replies] == [2]
        sim.faults.silence(False)
        alice.order(TICKERS[1], "bid", "1", "0.12")
        after = [json.loads(f.data) for f in await raw.frames(0.3) if f.opcode.name == "TEXT"]
        assert [m["seq"] for m in after] == [3]  # seq 2 went out while silenced: the client sees the gap
    finally:
        await raw.close()


@pytest.mark.parametrize(("mode", "status"), [("429", 429), ("500", 500)])
def test_fail_next_n(sim: RunningSimulator, mode: str, status: int) -> None:
    sim.faults.fail_next(2, mode)
    with httpx.Client(base_url=sim.rest_base) as http:
        codes = [http.get("/exchange/status") for _ in range(3)]
    assert [c.status_code for c in codes] == [status, status, 200]
    if mode == "429":
        assert codes[0].json() == {"error": "too many requests"}
    else:
        assert codes[0].json()["error"]["code"] == "internal_server_error"


def test_fail_next_with_a_path_prefix(sim: RunningSimulator, alice: Trader) -> None:
    control(sim, "faults/fail_next", n=1, mode="500", path_prefix="/portfolio/events/orders")
    assert alice.get("/portfolio/balance").status_code == 200
    assert alice.order(TICKERS[2], "bid", "1", "0.10").status_code == 500
    assert alice.order(TICKERS[2], "bid", "1", "0.10").status_code == 201


def test_timeout_after_accept_processes_then_hangs(sim: RunningSimulator, alice: Trader) -> None:
    sim.faults.fail_next(1, "timeout_after_accept", "/portfolio/events/orders", hang_seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        alice.http.post(
            "/portfolio/events/orders",
            json={
                "ticker": TICKERS[3],
                "side": "bid",
                "count": "1",
                "price": "0.10",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "taker_at_cross",
                "client_order_id": "lost-1",
            },
            headers=sign_headers(
                alice.key_id, alice.private_pem, "POST", "/trade-api/v2/portfolio/events/orders"
            ),
            timeout=0.3,
        )
    orders = alice.get("/portfolio/orders", ticker=TICKERS[3]).json()["orders"]
    assert [o["client_order_id"] for o in orders] == ["lost-1"]  # the order exists


def test_timeout_after_accept_closes_without_an_answer(sim: RunningSimulator, alice: Trader) -> None:
    sim.faults.fail_next(1, "timeout_after_accept", hang_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        alice.get("/portfolio/balance")
    assert time.monotonic() - started >= 0.3
    assert alice.get("/portfolio/balance").status_code == 200


def test_latency(sim: RunningSimulator) -> None:
    sim.faults.latency(0.3)
    started = time.monotonic()
    assert httpx.get(sim.rest_base + "/exchange/status").status_code == 200
    assert time.monotonic() - started >= 0.3
    sim.faults.reset()
    started = time.monotonic()
    httpx.get(sim.rest_base + "/exchange/status")
    assert time.monotonic() - started < 0.3


def test_http_switches_and_state(sim: RunningSimulator) -> None:
    assert control(sim, "faults/latency", seconds=0.01).json()["latency_seconds"] == 0.01
    assert control(sim, "faults/silence", on="true").json()["silenced"] is True
    control(sim, "faults/fail_next", n=3, mode="429")
    state = httpx.get(f"http://{sim.host}:{sim.port}/_sim/state").json()
    assert state["faults"]["fail_next"] == [{"remaining": 3, "mode": "429", "path_prefix": None}]
    control(sim, "faults/reset")
    state = httpx.get(f"http://{sim.host}:{sim.port}/_sim/state").json()
    assert state["faults"] == {
        "silenced": False,
        "latency_seconds": 0.0,
        "clock_skew_seconds": 0.0,
        "fail_next": [],
    }
    assert control(sim, "faults/clock_skew", seconds=-90).json()["clock_skew_seconds"] == -90.0
    control(sim, "faults/reset")
    assert control(sim, "faults/fail_next", mode="teapot").status_code == 400
    assert control(sim, "faults/skip_seq", count=1).json() == {"sids": 0}


def test_sim_controls_are_loopback_only(sim: RunningSimulator) -> None:
    from kalshiweb.simulator.server import ApiError

    req = Request("GET", "/_sim/state", {}, {}, b"", "10.1.2.3")
    with pytest.raises(ApiError) as info:
        sim.app.handle_sim(req)
    assert info.value.status == 403


def test_close_settle_and_advance_over_http() -> None:
    # its own simulator: advancing the clock closes every market for good
    with start_simulator(catalog=False, rate_limit_tier=None) as sim:
        add_markets(sim, TICKERS, event="KXFAULT")
        alice = Trader(sim)
        closed = control(sim, f"markets/{TICKERS[4]}/close").json()["market"]
        assert closed["status"] == "closed"
        settled = control(sim, f"markets/{TICKERS[5]}/settle", result="yes").json()["market"]
        assert settled["status"] == "finalized" and settled["result"] == "yes"
        assert control(sim, "markets/NOPE/close").status_code == 404
        control(sim, "advance", seconds=3 * 86400)  # past every test market's close time
        state = httpx.get(f"http://{sim.host}:{sim.port}/_sim/state").json()
        assert state["time_offset_seconds"] == 3 * 86400
        assert alice.get(f"/markets/{TICKERS[0]}").json()["market"]["status"] != "active"
        rejected = alice.order(TICKERS[0], "bid", "1", "0.10")
        assert rejected.status_code == 400 and rejected.json()["error"]["code"] == "MARKET_INACTIVE"
        alice.close()
