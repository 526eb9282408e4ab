"""KalshiStream against a tiny scripted WebSocket server, for behaviour the simulator cannot be made to show
(error frames 10/25 on a live subscription, a delta that drives a level negative)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from kalshiweb.kalshi import KalshiStream
from kalshiweb.kalshi.stream import StreamError

from .test_integration_stream import next_matching, wait_until


class ScriptedExchange:
    """Answers subscribe/unsubscribe/update_subscription like Kalshi; the test pushes data frames by hand."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self.sid = 0
        self.conn: ServerConnection | None = None
        self.seq: dict[int, int] = {}

    async def handler(self, ws: ServerConnection) -> None:
        self.conn = ws
        async for raw in ws:
            cmd = json.loads(raw)
            self.commands.append(cmd)
            params = cmd.get("params") or {}
            if cmd["cmd"] == "subscribe":
                for channel in params["channels"]:
                    self.sid += 1
                    await ws.send(
                        json.dumps(
                            {
                                "id": cmd["id"],
                                "type": "subscribed",
                                "msg": {"channel": channel, "sid": self.sid},
                            }
                        )
                    )
                    for ticker in params.get("market_tickers", []):
                        await self.snapshot(self.sid, ticker)
            elif cmd["cmd"] == "unsubscribe":
                for sid in params["sids"]:
                    await ws.send(json.dumps({"id": cmd["id"], "sid": sid, "seq": 1, "type": "unsubscribed"}))
            elif cmd["cmd"] == "update_subscription" and params["action"] == "get_snapshot":
                for ticker in params["market_tickers"]:
                    await self.snapshot(params["sids"][0], ticker, cmd_id=cmd["id"])

    async def send(self, sid: int, type_: str, msg: dict[str, Any], *, cmd_id: int | None = None) -> None:
        assert self.conn is not None
        self.seq[sid] = self.seq.get(sid, 0) + 1
        frame: dict[str, Any] = {"type": type_, "sid": sid, "seq": self.seq[sid], "msg": msg}
        if cmd_id:
            frame["id"] = cmd_id
        await self.conn.send(json.dumps(frame))

    async def snapshot(self, sid: int, ticker: str, cmd_id: int | None = None) -> None:
        await self.send(
            sid,
            "orderbook_snapshot",
            {
                "market_ticker": ticker,
                "market_id": "m",
                "yes_dollars_fp": [["0.4000", "10.00"]],
                "no_dollars_fp": [["0.5000", "5.00"]],
            },
            cmd_id=cmd_id,
        )

    async def delta(self, sid: int, ticker: str, price: str, delta: str, side: str = "yes") -> None:
        await self.send(
            sid,
            "orderbook_delta",
            {
                "market_ticker": ticker,
                "market_id": "m",
                "price_dollars": price,
                "delta_fp": delta,
                "side": side,
                "ts_ms": 1,
            },
        )


@pytest.fixture
async def exchange() -> AsyncIterator[tuple[ScriptedExchange, str]]:
    ex = ScriptedExchange()
    async with serve(ex.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield ex, f"ws://127.0.0.1:{port}/trade-api/ws/v2"


@pytest.mark.parametrize("code", [10, 25])
async def test_terminal_error_codes_resubscribe(exchange, code: int) -> None:
    ex, url = exchange
    stream = KalshiStream(url, command_timeout=2)
    await stream.start()
    try:
        handle = await stream.subscribe("orderbook_delta", ["A"])
        old_sid = handle.sids["orderbook_delta"]
        assert ex.conn is not None
        await ex.conn.send(
            json.dumps({"id": 0, "sid": old_sid, "type": "error", "msg": {"code": code, "msg": "x"}})
        )
        item = await next_matching(stream, lambda i: isinstance(i, StreamError))
        assert item.error.ws_code == code
        await wait_until(lambda: handle.sids["orderbook_delta"] not in (None, old_sid))
        cmds = [c["cmd"] for c in ex.commands]
        assert cmds == ["subscribe", "unsubscribe", "subscribe"], [
            c["cmd"] + str(c.get("params")) for c in ex.commands
        ]
        assert not stream.books["A"].stale and stream.reconnect_count == 0
    finally:
        await stream.close()


async def test_a_delta_driving_a_level_negative_resnapshots_the_book(exchange) -> None:
    ex, url = exchange
    stream = KalshiStream(url, command_timeout=2)
    await stream.start()
    try:
        handle = await stream.subscribe("orderbook_delta", ["A"])
        sid = handle.sids["orderbook_delta"]
        assert sid is not None
        await ex.delta(sid, "A", "0.4000", "-3.00")
        await wait_until(lambda: stream.books["A"].yes.size_at(Decimal("0.40")) == Decimal("7.00"))
        await ex.delta(sid, "A", "0.4000", "-8.00")
        err = await next_matching(stream, lambda i: isinstance(i, StreamError))
        assert "negative" in str(err.error)
        await wait_until(lambda: any(c["cmd"] == "update_subscription" for c in ex.commands))
        get_snapshot = next(c for c in ex.commands if c["cmd"] == "update_subscription")
        assert get_snapshot["params"] == {"sids": [sid], "action": "get_snapshot", "market_tickers": ["A"]}
        await wait_until(lambda: not stream.books["A"].stale)
        assert stream.books["A"].yes.size_at(Decimal("0.40")) == Decimal("10.00")
    finally:
        await stream.close()


async def test_deltas_after_a_gap_are_not_applied_until_the_snapshot(exchange) -> None:
    ex, url = exchange
    stream = KalshiStream(url, command_timeout=2)
    await stream.start()
    try:
        handle = await stream.subscribe("orderbook_delta", ["A"])
        sid = handle.sids["orderbook_delta"]
        assert sid is not None
        ex.seq[sid] += 1  # a lost message
        # hold back the snapshot reply so the delta below arrives while the book is stale
        original = ex.snapshot

        async def no_snapshot(*a: Any, **k: Any) -> None:
            return None

        ex.snapshot = no_snapshot  # type: ignore[method-assign]
        await ex.delta(sid, "A", "0.4000", "5.00")
        await wait_until(lambda: stream.gap_count == 1)
        assert stream.books["A"].stale
        await ex.delta(sid, "A", "0.4000", "1.00")
        await asyncio.sleep(0.1)
        assert stream.books["A"].yes.size_at(Decimal("0.40")) == Decimal("10.00")  # nothing applied
        ex.snapshot = original  # type: ignore[method-assign]
        await stream.get_snapshot(handle)
        await wait_until(lambda: not stream.books["A"].stale)
        await ex.delta(sid, "A", "0.4000", "1.00")
        await wait_until(lambda: stream.books["A"].yes.size_at(Decimal("0.40")) == Decimal("11.00"))
    finally:
        await stream.close()
