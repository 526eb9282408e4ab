"""WebSocket commands and their numbered errors (protocol §7.2-§7.4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import TICKERS, Trader, add_markets, drain, recv, send


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier=None) as running:
        add_markets(running)
        yield running


@pytest.fixture(scope="module")
def alice(sim: RunningSimulator) -> Iterator[Trader]:
    trader = Trader(sim)
    yield trader
    trader.close()


def error(cmd_id: int, code: int, text: str) -> dict[str, Any]:
    return {"id": cmd_id, "type": "error", "msg": {"code": code, "msg": text}}


async def test_subscribe_answers_one_subscribed_per_channel(alice: Trader) -> None:
    async with alice.connect() as ws:
        await send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker", "trade", "fill"]}})
        replies = [await recv(ws) for _ in range(3)]
        assert [r["type"] for r in replies] == ["subscribed"] * 3
        assert [r["msg"]["channel"] for r in replies] == ["ticker", "trade", "fill"]
        assert all(r["id"] == 1 for r in replies)
        sids = [r["msg"]["sid"] for r in replies]
        assert len(set(sids)) == 3 and all(isinstance(s, int) and s >= 1 for s in sids)

        await send(ws, {"id": 2, "cmd": "list_subscriptions"})
        listed = await recv(ws)
        assert listed == {
            "id": 2,
            "type": "ok",
            "msg": [{"channel": c, "sid": s} for c, s in zip(["ticker", "trade", "fill"], sids, strict=True)],
        }

        await send(ws, {"id": 3, "cmd": "unsubscribe", "params": {"sids": sids[:2]}})
        gone = [await recv(ws) for _ in range(2)]
        assert [(g["type"], g["sid"], g["id"]) for g in gone] == [
            ("unsubscribed", sids[0], 3),
            ("unsubscribed", sids[1], 3),
        ]
        assert all(isinstance(g["seq"], int) for g in gone)
        await send(ws, {"id": 4, "cmd": "list_subscriptions"})
        assert (await recv(ws))["msg"] == [{"channel": "fill", "sid": sids[2]}]


async def test_a_second_subscribe_merges_into_the_existing_sid(alice: Trader) -> None:
    async with alice.connect() as ws:
        await send(
            ws,
            {
                "id": 1,
                "cmd": "subscribe",
                "params": {"channels": ["orderbook_delta"], "market_ticker": TICKERS[0]},
            },
        )
        first = await recv(ws)
        await recv(ws)  # snapshot
        await send(
            ws,
            {
                "id": 2,
                "cmd": "subscribe",
                "params": {"channels": ["orderbook_delta"], "market_tickers": TICKERS[:2]},
            },
        )
        second = await recv(ws)
        assert second["msg"]["sid"] == first["msg"]["sid"]
        snapshot = await recv(ws)
        assert snapshot["type"] == "orderbook_snapshot" and snapshot["msg"]["market_ticker"] == TICKERS[1]
        assert snapshot["seq"] == 2


@pytest.mark.parametrize(
    ("command", "code", "text"),
    [
        ({"id": 5, "cmd": "subscribe"}, 2, "Params required"),
        ({"id": 5, "cmd": "subscribe", "params": {}}, 3, "Channels required"),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": []}}, 3, "Channels required"),
        ({"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker_v2"]}}, 8, "Unknown channel name"),
        (
            {"id": 5, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}},
            14,
            "Market Ticker required",
        ),
        (
            {"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_tickers": "X"}},
            11,
            "Invalid parameter",
        ),
        (
            {"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_ticker": "NOPE"}},
            11,
            "Invalid parameter",
        ),
        (
            {"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker"], "use_yes_price": "yes"}},
            11,
            "Invalid parameter",
        ),
        ({"id": 5, "cmd": "dance"}, 5, "Unknown command"),
        ({"id": 5}, 5, "Unknown command"),
        ({"id": 5, "cmd": "unsubscribe"}, 2, "Params required"),
        ({"id": 5, "cmd": "unsubscribe", "params": {}}, 4, "Subscription IDs required"),
        ({"id": 5, "cmd": "unsubscribe", "params": {"sids": [999]}}, 7, "Unknown subscription ID"),
        ({"id": 5, "cmd": "update_subscription"}, 2, "Params required"),
        (
            {"id": 5, "cmd": "update_subscription", "params": {"action": "add_markets"}},
            12,
            "Exactly one subscription ID is required",
        ),
        (
            {"id": 5, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "add_markets"}},
            12,
            "Exactly one subscription ID is required",
        ),
        ({"id": 5, "cmd": "update_subscription", "params": {"sid": 999}}, 15, "Action required"),
        (
            {"id": 5, "cmd": "update_subscription", "params": {"sid": 999, "action": "shuffle"}},
            13,
            "Unsupported action",
        ),
        (
            {"id": 5, "cmd": "update_subscription", "params": {"sid": 999, "action": "add_markets"}},
            7,
            "Unknown subscription ID",
        ),
    ],
)
async def test_command_errors(alice: Trader, command: dict[str, Any], code: int, text: str) -> None:
    async with alice.connect() as ws:
        await send(ws, command)
        reply = await recv(ws)
        assert reply["type"] == "error" and reply["id"] == 5
        msg = dict(reply["msg"])
        named = msg.pop("market_ticker", None)  # the schema's optional field for market-specific errors
        assert msg == {"code": code, "msg": text}
        unknown = (command.get("params") or {}).get("market_ticker")
        assert named == (unknown if unknown == "NOPE" else None)
        # the connection survives every error
        await send(ws, {"id": 6, "cmd": "list_subscriptions"})
        assert (await recv(ws))["id"] == 6


async def test_update_subscription_errors_on_a_live_sid(alice: Trader) -> None:
    async with alice.connect() as ws:
        await send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}})
        sid = (await recv(ws))["msg"]["sid"]
        await send(
            ws,
            {
                "id": 2,
                "cmd": "update_subscription",
                "params": {"sid": sid, "action": "get_snapshot", "market_tickers": [TICKERS[0]]},
            },
        )
        reply = await recv(ws)
        assert reply["msg"]["code"] == 13 and reply["sid"] == sid
        await send(
            ws,
            {
                "id": 3,
                "cmd": "subscribe",
                "params": {"channels": ["orderbook_delta"], "market_ticker": TICKERS[0]},
            },
        )
        book_sid = (await recv(ws))["msg"]["sid"]
        await recv(ws)
        await send(
            ws,
            {"id": 4, "cmd": "update_subscription", "params": {"sids": [book_sid], "action": "add_markets"}},
        )
        assert (await recv(ws))["msg"] == {"code": 14, "msg": "Market Ticker required"}


@pytest.mark.parametrize(
    "garbage", ["{not json", "[1, 2]", '"hello"', '{"id": "x", "cmd": "subscribe"}', "null"]
)
async def test_malformed_messages_get_error_1_and_the_connection_lives(alice: Trader, garbage: str) -> None:
    async with alice.connect() as ws:
        await send(ws, garbage)
        assert await recv(ws) == error(0, 1, "Unable to process message")
        await ws.send(b"\xff\xfe binary junk")
        assert (await recv(ws))["msg"]["code"] == 1
        await send(ws, {"id": 9, "cmd": "list_subscriptions"})
        assert (await recv(ws)) == {"id": 9, "type": "ok", "msg": []}


async def test_known_but_quiet_channels_can_be_subscribed(alice: Trader) -> None:
    async with alice.connect() as ws:
        await send(
            ws,
            {"id": 1, "cmd": "subscribe", "params": {"channels": ["order_group_updates", "communications"]}},
        )
        assert [m["type"] for m in await drain(ws)] == ["subscribed", "subscribed"]
