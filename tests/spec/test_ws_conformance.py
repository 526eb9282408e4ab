"""Each WebSocket channel and command reply of the simulator, sent at least once and checked against Kalshi's
AsyncAPI file (the suite-wide check fails a test on any violation; these tests also assert which AsyncAPI
messages were seen, so coverage does not depend on other tests)."""

from __future__ import annotations

from typing import Any

from kalshiweb.simulator.ws import CHANNELS, SUPPORTED
from tests.simulator.simhelp import drain, recv_until, send
from tests.spec.conformance import asyncapi

from .conftest import TICKERS, SpecSim

BOOK, LIFECYCLE = TICKERS[2], TICKERS[3]


async def subscribe(ws: Any, cmd_id: int, channels: list[str], **params: Any) -> int:
    await send(ws, {"id": cmd_id, "cmd": "subscribe", "params": {"channels": channels, **params}})
    reply = await recv_until(ws, lambda m: m.get("id") == cmd_id)
    assert reply["type"] == "subscribed", reply
    return int(reply["msg"]["sid"])


def seen_since(spec: SpecSim, before: int, *kinds: str) -> None:
    assert spec.checker.violations[before:] == []
    assert set(kinds) <= spec.checker.messages_seen, set(kinds) - spec.checker.messages_seen


async def test_market_data_channels(spec_sim: SpecSim) -> None:
    alice, bob = spec_sim.alice, spec_sim.bob
    before = len(spec_sim.checker.violations)
    alice.order(BOOK, "bid", "3", "0.4000")
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["orderbook_delta"], market_ticker=BOOK)
        await subscribe(ws, 2, ["ticker"], market_tickers=[BOOK], send_initial_snapshot=True)
        await subscribe(ws, 3, ["trade"], market_tickers=[BOOK])
        await drain(ws)
        bob.order(BOOK, "ask", "1", "0.4000", time_in_force="immediate_or_cancel")
        kinds = {m["type"] for m in await drain(ws)}
    assert {"orderbook_delta", "ticker", "trade"} <= kinds
    seen_since(
        spec_sim, before, "orderbookSnapshot", "orderbookDelta", "ticker", "trade", "subscribedResponse"
    )


async def test_private_channels(spec_sim: SpecSim) -> None:
    alice, bob = spec_sim.alice, spec_sim.bob
    before = len(spec_sim.checker.violations)
    async with alice.connect() as ws:
        await subscribe(ws, 1, ["fill", "user_orders", "market_positions"])
        alice.order(BOOK, "bid", "2", "0.3000", client_order_id="spec-fill")
        bob.order(BOOK, "ask", "2", "0.3000", time_in_force="immediate_or_cancel")
        kinds = {m["type"] for m in await drain(ws)}
    assert {"fill", "user_order", "market_position"} <= kinds
    seen_since(spec_sim, before, "fill", "userOrder", "marketPosition")


async def test_market_lifecycle(spec_sim: SpecSim) -> None:
    sim = spec_sim.sim
    before = len(spec_sim.checker.violations)
    async with spec_sim.alice.connect() as ws:
        await subscribe(ws, 1, ["market_lifecycle_v2"])
        sim.call(sim.exchange.settle_market, LIFECYCLE, "yes")
        kinds = {m["msg"].get("event_type") for m in await drain(ws) if m["type"] == "market_lifecycle_v2"}
    assert {"determined", "settled"} <= kinds
    seen_since(spec_sim, before, "marketLifecycleV2")


async def test_command_replies_and_errors(spec_sim: SpecSim) -> None:
    before = len(spec_sim.checker.violations)
    async with spec_sim.alice.connect() as ws:
        sid = await subscribe(ws, 1, ["orderbook_delta"], market_tickers=[TICKERS[0]])
        quiet = await subscribe(ws, 9, ["user_orders"], market_tickers=[TICKERS[0]])  # no numbers on it
        await drain(ws)
        await send(
            ws,
            {
                "id": 2,
                "cmd": "update_subscription",
                "params": {"sid": sid, "action": "add_markets", "market_tickers": [TICKERS[1]]},
            },
        )
        await send(
            ws,
            {
                "id": 10,
                "cmd": "update_subscription",
                "params": {"sid": quiet, "action": "add_markets", "market_tickers": [TICKERS[1]]},
            },
        )
        await send(ws, {"id": 3, "cmd": "list_subscriptions"})
        await send(ws, {"id": 4, "cmd": "unsubscribe", "params": {"sids": [sid]}})
        await send(ws, {"id": 5, "cmd": "unsubscribe", "params": {"sids": [sid]}})  # error 7
        await send(ws, {"id": 6, "cmd": "dance"})  # error 5
        await send(ws, {"id": 7, "cmd": "subscribe", "params": {"channels": ["nope"]}})  # error 8
        await send(
            ws,
            {"id": 8, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_tickers": ["KXNOPE"]}},
        )  # error 11, about one market
        await send(ws, "not json")  # error 1
        replies = await drain(ws)
    types = [m["type"] for m in replies]
    assert types.count("ok") == 3 and "unsubscribed" in types and types.count("error") >= 4
    seen_since(
        spec_sim,
        before,
        "okResponse",
        "listSubscriptionsResponse",
        "unsubscribedResponse",
        "errorResponse",
    )


# AsyncAPI messages of channels the simulator accepts but never feeds (ws.py's KNOWN_QUIET), and of channels
# it does not have at all; kept here so that the README's list stays true.
NOT_SENT = {
    "cfbenchmarksValue",
    "cfbenchmarksIndexList",
    "pythValue",
    "pythUnderlyingList",
}


def test_every_asyncapi_message_is_either_sent_by_the_simulator_or_listed_as_not_sent() -> None:
    kinds = {key for candidates in asyncapi().by_type.values() for key, _ in candidates}
    sent = {
        "subscribedResponse",
        "unsubscribedResponse",
        "okResponse",
        "listSubscriptionsResponse",
        "errorResponse",
        "orderbookSnapshot",
        "orderbookDelta",
        "ticker",
        "trade",
        "fill",
        "userOrder",
        "marketPosition",
        "marketLifecycleV2",
        "orderGroupUpdates",  # tests/spec/test_ops_groups.py
        # issue #15 breadth (tests/spec/test_ops_breadth.py)
        "multivariateMarketLifecycle",
        "eventLifecycle",
        "eventFeeUpdate",
        # combos and RFQs (tests/spec/test_ops_rfq.py)
        "rfqCreated",
        "rfqDeleted",
        "quoteCreated",
        "quoteAccepted",
        "quoteExecuted",
    }
    assert sent | NOT_SENT == kinds
    assert SUPPORTED == {
        "orderbook_delta",
        "ticker",
        "trade",
        "fill",
        "market_positions",
        "user_orders",
        "market_lifecycle_v2",
        "order_group_updates",
        "multivariate_market_lifecycle",
    }
    assert SUPPORTED <= CHANNELS
