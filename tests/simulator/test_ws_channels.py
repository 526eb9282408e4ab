"""WebSocket channels: what each subscriber receives, and in which order (protocol §7.5-§7.7)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from kalshiweb.simulator.faults import Faults
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from kalshiweb.simulator.ws import Session, Subscription

from .simhelp import RawWs, Trader, add_markets, drain, recv, recv_until, send


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None, ping_interval=0.2) as running:
        add_markets(running, [f"KXWS-{i}" for i in range(12)], event="KXWS")
        yield running


@pytest.fixture
def alice(sim: RunningSimulator) -> Iterator[Trader]:
    trader = Trader(sim)
    yield trader
    trader.close()


@pytest.fixture
def bob(sim: RunningSimulator) -> Iterator[Trader]:
    trader = Trader(sim)
    yield trader
    trader.close()


def ws_ticker(i: int) -> str:
    return f"KXWS-{i}"


async def subscribe(ws: Any, cmd_id: int, channels: list[str], **params: Any) -> int:
    await send(ws, {"id": cmd_id, "cmd": "subscribe", "params": {"channels": channels, **params}})
    reply = await recv(ws)
    assert reply["type"] == "subscribed", reply
    return int(reply["msg"]["sid"])


async def test_snapshot_then_deltas_with_consecutive_seq(alice: Trader, bob: Trader) -> None:
    t0, t1 = ws_ticker(0), ws_ticker(1)
    assert alice.order(t0, "bid", "10", "0.40").status_code == 201
    assert alice.order(t0, "ask", "5", "0.70").status_code == 201
    async with alice.connect() as ws:
        sid = await subscribe(ws, 1, ["orderbook_delta"], market_tickers=[t0, t1])
        snap0, snap1 = await recv(ws), await recv(ws)
        assert (snap0["type"], snap0["sid"], snap0["seq"]) == ("orderbook_snapshot", sid, 1)
        assert snap0["msg"]["market_ticker"] == t0 and isinstance(snap0["msg"]["market_id"], str)
        assert snap0["msg"]["yes_dollars_fp"] == [["0.4000", "10.00"]]
        assert snap0["msg"]["no_dollars_fp"] == [["0.3000", "5.00"]]
        assert (snap1["seq"], snap1["msg"]["market_ticker"]) == (2, t1)
        assert "yes_dollars_fp" not in snap1["msg"] and "no_dollars_fp" not in snap1["msg"]

        bob.order(t0, "bid", "3", "0.41")
        bob.order(t1, "ask", "2", "0.55")
        alice.order(t0, "ask", "1", "0.41", time_in_force="immediate_or_cancel")
        deltas = [m for m in await drain(ws) if m["type"] == "orderbook_delta"]
        assert [d["seq"] for d in deltas] == list(range(3, 3 + len(deltas)))
        assert [
            (d["msg"]["market_ticker"], d["msg"]["side"], d["msg"]["price_dollars"], d["msg"]["delta_fp"])
            for d in deltas
        ] == [
            (t0, "yes", "0.4100", "3.00"),
            (t1, "no", "0.4500", "2.00"),
            (t0, "yes", "0.4100", "-1.00"),
        ]
        assert all("client_order_id" not in d["msg"] for d in deltas)
        assert all(isinstance(d["msg"]["ts_ms"], int) and isinstance(d["msg"]["ts"], str) for d in deltas)


async def test_use_yes_price_reports_no_levels_in_yes_terms(alice: Trader) -> None:
    t = ws_ticker(2)
    alice.order(t, "ask", "5", "0.70")
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["orderbook_delta"], market_ticker=t, use_yes_price=True)
        assert (await recv(ws))["msg"]["no_dollars_fp"] == [["0.7000", "5.00"]]
        alice.order(t, "ask", "1", "0.80")
        delta = await recv_until(ws, lambda m: m["type"] == "orderbook_delta")
        assert delta["msg"]["price_dollars"] == "0.8000" and delta["msg"]["side"] == "no"


async def test_own_order_delta_carries_client_order_id(alice: Trader, bob: Trader) -> None:
    t = ws_ticker(3)
    async with alice.connect() as alice_ws, bob.connect() as bob_ws:
        await subscribe(alice_ws, 1, ["orderbook_delta"], market_ticker=t)
        await subscribe(bob_ws, 1, ["orderbook_delta"], market_ticker=t)
        await recv(alice_ws), await recv(bob_ws)
        alice.order(t, "bid", "2", "0.33", client_order_id="mine-1")
        own = await recv_until(alice_ws, lambda m: m["type"] == "orderbook_delta")
        other = await recv_until(bob_ws, lambda m: m["type"] == "orderbook_delta")
        assert own["msg"]["client_order_id"] == "mine-1" and own["msg"]["subaccount"] == 0
        assert "client_order_id" not in other["msg"] and "subaccount" not in other["msg"]


async def test_ticker_initial_snapshot_and_updates(alice: Trader) -> None:
    t = ws_ticker(4)
    async with alice.connect() as ws:
        sid = await subscribe(ws, 1, ["ticker"], market_tickers=[t], send_initial_snapshot=True)
        first = await recv(ws)
        assert first["type"] == "ticker" and first["sid"] == sid and "seq" not in first
        assert first["msg"]["market_ticker"] == t
        alice.order(t, "bid", "4", "0.45")
        update = await recv_until(ws, lambda m: m["type"] == "ticker")
        assert update["msg"]["yes_bid_dollars"] == "0.4500" and update["msg"]["yes_bid_size_fp"] == "4.00"
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["ticker"], send_initial_snapshot=True)  # every market
        tickers = {m["msg"]["market_ticker"] for m in await drain(ws)}
        assert {ws_ticker(i) for i in range(12)} <= tickers


async def test_trade_and_private_channels_go_to_the_right_people(alice: Trader, bob: Trader) -> None:
    t = ws_ticker(5)
    channels = ["trade", "fill", "user_orders", "market_positions"]
    async with alice.connect() as alice_ws, bob.connect() as bob_ws:
        for ws in (alice_ws, bob_ws):
            for i, channel in enumerate(channels, 1):
                await subscribe(ws, i, [channel])
        alice_order = alice.order(t, "bid", "5", "0.50", client_order_id="a-5").json()["order_id"]
        bob_order = bob.order(t, "ask", "2", "0.50", time_in_force="immediate_or_cancel").json()["order_id"]
        got_alice, got_bob = await drain(alice_ws), await drain(bob_ws)

    def by_type(msgs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        return [m["msg"] for m in msgs if m["type"] == kind]

    for msgs in (got_alice, got_bob):
        trades = [m for m in msgs if m["type"] == "trade"]
        assert len(trades) == 1 and trades[0]["seq"] == 1 and trades[0]["msg"]["count_fp"] == "2.00"
    assert [f["order_id"] for f in by_type(got_alice, "fill")] == [alice_order]
    assert by_type(got_alice, "fill")[0]["client_order_id"] == "a-5"
    assert [f["order_id"] for f in by_type(got_bob, "fill")] == [bob_order]
    assert {o["order_id"] for o in by_type(got_alice, "user_order")} == {alice_order}
    assert {o["order_id"] for o in by_type(got_bob, "user_order")} == {bob_order}
    assert [p["position_fp"] for p in by_type(got_alice, "market_position")][-1] == "2.00"
    assert {p["user_id"] for p in by_type(got_alice, "market_position")} == {alice.user_id}
    assert [p["position_fp"] for p in by_type(got_bob, "market_position")][-1] == "-2.00"
    assert all("seq" not in m for m in got_alice if m["type"] in ("fill", "user_order", "market_position"))


async def test_private_channels_filter_by_market(alice: Trader) -> None:
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["user_orders"], market_tickers=[ws_ticker(6)])
        alice.order(ws_ticker(7), "bid", "1", "0.10")
        alice.order(ws_ticker(6), "bid", "1", "0.10")
        orders = [m["msg"]["ticker"] for m in await drain(ws) if m["type"] == "user_order"]
        assert orders == [ws_ticker(6)]


async def test_update_subscription_add_delete_and_get_snapshot(alice: Trader) -> None:
    a, b = ws_ticker(8), ws_ticker(9)
    alice.order(b, "bid", "6", "0.20")
    async with alice.connect() as ws:
        sid = await subscribe(ws, 1, ["orderbook_delta"], market_ticker=a)
        assert (await recv(ws))["seq"] == 1
        await send(
            ws,
            {
                "id": 2,
                "cmd": "update_subscription",
                "params": {"sid": sid, "action": "add_markets", "market_tickers": [b]},
            },
        )
        ok = await recv(ws)
        assert ok["type"] == "ok" and ok["id"] == 2 and ok["sid"] == sid and isinstance(ok["seq"], int)
        assert ok["msg"] == {"market_tickers": [a, b]}
        snapshot = await recv(ws)
        assert (snapshot["type"], snapshot["seq"], snapshot["msg"]["market_ticker"]) == (
            "orderbook_snapshot",
            2,
            b,
        )

        await send(
            ws,
            {
                "id": 3,
                "cmd": "update_subscription",
                "params": {"sids": [sid], "action": "get_snapshot", "market_tickers": [b]},
            },
        )
        again = await recv(ws)
        assert (again["type"], again["id"], again["seq"]) == ("orderbook_snapshot", 3, 3)
        assert again["msg"]["yes_dollars_fp"] == [["0.2000", "6.00"]]

        await send(
            ws,
            {
                "id": 4,
                "cmd": "update_subscription",
                "params": {"sid": sid, "action": "delete_markets", "market_tickers": [a]},
            },
        )
        assert (await recv(ws))["msg"] == {"market_tickers": [b]}
        alice.order(a, "bid", "1", "0.10")
        alice.order(b, "bid", "1", "0.10")
        deltas = [m for m in await drain(ws) if m["type"] == "orderbook_delta"]
        assert [(d["msg"]["market_ticker"], d["seq"]) for d in deltas] == [(b, 4)]


async def test_market_lifecycle(sim: RunningSimulator, alice: Trader) -> None:
    t = ws_ticker(10)
    async with alice.connect() as ws:
        sid = await subscribe(ws, 1, ["market_lifecycle_v2"])
        sim.call(sim.exchange.settle_market, t, "no")
        events = [m for m in await drain(ws) if m["type"] == "market_lifecycle_v2"]
    kinds = [e["msg"]["event_type"] for e in events]
    assert "determined" in kinds and kinds[-1] == "settled"
    assert all(e["sid"] == sid and e["msg"]["market_ticker"] == t for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    determined = next(e["msg"] for e in events if e["msg"]["event_type"] == "determined")
    assert determined["result"] == "no" and determined["settlement_value"] == "0.0000"


async def test_server_sends_heartbeat_pings(sim: RunningSimulator, alice: Trader) -> None:
    raw = await RawWs.open(sim.ws_url, alice.ws_headers())
    try:
        frames = await raw.frames(0.7)
        pings = [f for f in frames if getattr(f, "opcode", None) is not None and f.opcode.name == "PING"]
        assert len(pings) >= 2 and all(bytes(p.data) == b"heartbeat" for p in pings)
    finally:
        await raw.close()


async def test_a_slow_subscriber_gets_error_25_and_loses_only_that_subscription(
    sim: RunningSimulator, alice: Trader
) -> None:
    t = ws_ticker(11)
    sim.app.hub.queue_limit = 3
    try:
        async with alice.connect() as ws:
            book_sid = await subscribe(ws, 1, ["orderbook_delta"], market_ticker=t)
            await recv(ws)
            trade_sid = await subscribe(ws, 2, ["trade"])

            def burst() -> None:  # six book changes before the sender task gets to run
                for i in range(6):
                    sim.exchange.create_order(
                        alice.user_id,
                        ticker=t,
                        side="bid",
                        count=1,
                        price=f"0.1{i}",
                        time_in_force="good_till_canceled",
                    )

            sim.call(burst)
            msgs = await drain(ws)
            overflow = [m for m in msgs if m["type"] == "error"]
            assert overflow == [
                {
                    "id": 0,
                    "type": "error",
                    "sid": book_sid,
                    "msg": {"code": 25, "msg": "Subscription buffer overflow"},
                }
            ]
            await send(ws, {"id": 3, "cmd": "list_subscriptions"})
            assert (await recv(ws))["msg"] == [{"channel": "trade", "sid": trade_sid}]
    finally:
        sim.app.hub.queue_limit = 5000


async def test_overflow_bookkeeping_unit() -> None:
    sent: list[dict[str, Any]] = []

    async def fake_send(message: dict[str, Any]) -> None:
        sent.append(message)

    class FakeHub:
        faults = Faults()

    session = Session(FakeHub(), "u", fake_send, queue_limit=2)  # type: ignore[arg-type]
    sub = Subscription(1, "trade", None)
    other = Subscription(2, "ticker", None)
    session.subs = {1: sub, 2: other}
    session.publish(other, "ticker", {"n": 0})
    for n in range(3):
        session.publish(sub, "trade", {"n": n})
    assert 1 not in session.subs and 2 in session.subs
    assert session.data_queued == 1
    task = asyncio.create_task(session.run_sender())
    await asyncio.sleep(0.01)
    session.closed = True
    session.wakeup.set()
    await task
    assert [m["text"][:20] for m in sent] == ['{"type": "ticker", "', '{"id": 0, "type": "e']
