"""Every WS message type the simulator emits has the keys and JSON value types of Kalshi's own examples
(tests/fixtures/kalshi, copied from Kalshi's AsyncAPI examples). Keys the protocol doc marks optional may be missing on
either side; everything else must match, recursively."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from kalshiweb.simulator.engine import Market
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from tests.samples import SAMPLES

from .simhelp import EVENT, SERIES, Trader, add_markets, drain, recv, send

TICKERS = ["KXCONTRACT-A", "KXCONTRACT-B"]

# Optional keys per message type (protocol §7.6: fields without *), and per nested object.
OPTIONAL: dict[str, set[str]] = {
    "orderbook_delta": {"client_order_id", "subaccount"},
    "fill": {"client_order_id", "subaccount"},
    "user_order": {
        "order_group_id",
        "self_trade_prevention_type",
        "last_update_time",
        "last_updated_ts_ms",
        "last_update_reason",
        "expiration_time",
        "expiration_ts_ms",
        "subaccount_number",
    },
    "market_position": {"subaccount"},
    "market_lifecycle_v2": {
        "exchange_index",
        "open_ts",
        "close_ts",
        "determination_ts",
        "result",
        "settlement_value",
        "settled_ts",
        "is_deactivated",
        "additional_metadata",
        "price_level_structure",
        "price_ranges",
    },
    "additional_metadata": {"strike_type", "floor_strike", "cap_strike", "custom_strike"},
    "envelope": {"id"},
}

SKIPPED = {
    "ws_msg_event_fee_update_cleared.json": "event_fee_update: sent since #15 and schema-checked in tests/spec/test_ops_breadth.py, not captured here yet",
    "ws_msg_event_fee_update_set.json": "event_fee_update: sent since #15 and schema-checked in tests/spec/test_ops_breadth.py, not captured here yet",
    "ws_msg_event_lifecycle.json": "event_lifecycle: sent since #15 and schema-checked in tests/spec/test_ops_breadth.py, not captured here yet",
    "ws_msg_multivariate_market_lifecycle_created.json": "multivariate lifecycle: sent since #15 and schema-checked in tests/spec/test_ops_breadth.py, not captured here yet",
    "ws_msg_order_group_updates.json": "order_group_updates: sent since #15 and schema-checked in tests/spec/test_ops_groups.py, not captured here yet",
    "ws_msg_quote_accepted.json": "communications: sent since #15 and schema-checked in tests/spec/test_ops_rfq.py, not captured here yet",
    "ws_msg_quote_created.json": "communications: sent since #15 and schema-checked in tests/spec/test_ops_rfq.py, not captured here yet",
    "ws_msg_quote_executed.json": "communications: sent since #15 and schema-checked in tests/spec/test_ops_rfq.py, not captured here yet",
    "ws_msg_rfq_created.json": "communications: sent since #15 and schema-checked in tests/spec/test_ops_rfq.py, not captured here yet",
    "ws_msg_rfq_deleted.json": "communications: sent since #15 and schema-checked in tests/spec/test_ops_rfq.py, not captured here yet",
    "ws_msg_market_lifecycle_v2_metadata_updated_strike.json": "the engine never changes market metadata",
    "ws_msg_market_lifecycle_v2_metadata_updated_subtitle.json": "the engine never changes market metadata",
    "ws_msg_market_lifecycle_v2_price_level_structure_updated.json": "the engine never changes price grids",
    "ws_resp_error_authentication_required.json": "every connection is authenticated, so error 9 never occurs",
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def compare(sample: Any, actual: Any, where: str, optional: set[str]) -> list[str]:
    problems: list[str] = []
    if sample is None or actual is None:  # nullable fields: either side may be null
        return problems
    if json_type(sample) != json_type(actual):
        return [f"{where}: sample is {json_type(sample)}, simulator sent {json_type(actual)} ({actual!r})"]
    if isinstance(sample, dict):
        for key in sorted(set(sample) | set(actual)):
            if key not in actual:
                if key not in optional:
                    problems.append(f"{where}.{key}: missing")
                continue
            if key not in sample:
                if key not in optional:
                    problems.append(f"{where}.{key}: not in Kalshi's sample")
                continue
            problems += compare(sample[key], actual[key], f"{where}.{key}", OPTIONAL.get(key, set()))
    elif isinstance(sample, list) and sample and actual:
        problems += compare(sample[0], actual[0], f"{where}[0]", optional)
    return problems


def check(sample: dict[str, Any], actual: dict[str, Any]) -> None:
    assert actual is not None, "the simulator never sent this message"
    kind = sample.get("type", "")
    problems = compare(
        {k: v for k, v in sample.items() if k != "msg"},
        {k: v for k, v in actual.items() if k != "msg"},
        "envelope",
        OPTIONAL["envelope"],
    )
    if "msg" in sample or "msg" in actual:
        problems += compare(sample.get("msg"), actual.get("msg"), "msg", OPTIONAL.get(kind, set()))
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def captured() -> Iterator[dict[str, dict[str, Any]]]:
    """One real example of every message the simulator sends, keyed by sample file name."""
    import asyncio

    with start_simulator(catalog=False, rate_limit_tier=None) as sim:
        add_markets(sim, TICKERS, event=EVENT)
        yield asyncio.run(_capture(sim))


async def _capture(sim: RunningSimulator) -> dict[str, dict[str, Any]]:
    alice, bob = Trader(sim), Trader(sim)
    out: dict[str, dict[str, Any]] = {}
    a, b = TICKERS
    alice.order(a, "bid", "5", "0.40")
    alice.order(a, "ask", "5", "0.60")
    async with alice.connect() as ws:
        await send(
            ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ticker": a}}
        )
        out["ws_resp_subscribed.json"] = await recv(ws)
        book_sid = out["ws_resp_subscribed.json"]["msg"]["sid"]
        out["ws_msg_orderbook_snapshot.json"] = await recv(ws)
        await send(
            ws,
            {
                "id": 2,
                "cmd": "subscribe",
                "params": {
                    "channels": [
                        "ticker",
                        "trade",
                        "fill",
                        "user_orders",
                        "market_positions",
                        "market_lifecycle_v2",
                    ],
                },
            },
        )
        await drain(ws, 0.2)
        alice.order(
            a,
            "bid",
            "3",
            "0.45",
            client_order_id="contract-1",
            expiration_time=int(sim.call(lambda: sim.exchange.now).timestamp()) + 3600,
        )
        bob.order(a, "ask", "2", "0.45", time_in_force="immediate_or_cancel")

        def new_market() -> None:
            now = sim.exchange.now
            sim.exchange.add_market(
                Market(
                    "KXCONTRACT-NEW",
                    EVENT,
                    SERIES,
                    "New",
                    "Above 4487",
                    "Not above",
                    now - timedelta(minutes=1),
                    now + timedelta(days=1),
                    strike_type="greater",
                    floor_strike=Decimal("4487"),
                )
            )

        sim.call(new_market)
        for message in await drain(ws):
            name = {
                "orderbook_delta": "ws_msg_orderbook_delta.json",
                "ticker": "ws_msg_ticker.json",
                "trade": "ws_msg_trade.json",
                "fill": "ws_msg_fill.json",
                "user_order": "ws_msg_user_order.json",
                "market_position": "ws_msg_market_position.json",
            }.get(message["type"])
            if message["type"] == "market_lifecycle_v2" and message["msg"]["event_type"] == "created":
                name = "ws_msg_market_lifecycle_v2_created.json"
            if name and name not in out:
                out[name] = message
        await send(
            ws,
            {
                "id": 3,
                "cmd": "update_subscription",
                "params": {"sid": book_sid, "action": "add_markets", "market_tickers": [b]},
            },
        )
        out["ws_resp_ok_update_subscription.json"] = await recv(ws)
        await drain(ws, 0.2)
        await send(ws, {"id": 4, "cmd": "list_subscriptions"})
        out["ws_resp_list_subscriptions.json"] = await recv(ws)
        await send(ws, {"id": 5, "cmd": "unsubscribe", "params": {"sids": [book_sid]}})
        out["ws_resp_unsubscribed.json"] = await recv(ws)
        for name, command in [
            (
                "ws_resp_error_unknown_subscription.json",
                {"id": 6, "cmd": "unsubscribe", "params": {"sids": [999]}},
            ),
            (
                "ws_resp_error_unknown_channel.json",
                {"id": 7, "cmd": "subscribe", "params": {"channels": ["nope"]}},
            ),
            ("ws_resp_error_params_required.json", {"id": 8, "cmd": "subscribe"}),
            (
                "ws_resp_error_market_ticker_required.json",
                {"id": 9, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}},
            ),
        ]:
            await send(ws, command)
            out[name] = await recv(ws)
    alice.close()
    bob.close()
    return out


SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("ws_*.json") if p.name.startswith(("ws_msg_", "ws_resp_")))


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_message_matches_kalshis_sample(name: str, captured: dict[str, dict[str, Any]]) -> None:
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    sample = json.loads((SAMPLES / name).read_text())
    check(sample, captured.get(name))  # type: ignore[arg-type]
    if name.startswith("ws_resp_error"):
        assert captured[name]["msg"] == sample["msg"]  # same code, same text


def test_every_sample_is_checked_or_skipped_for_a_reason() -> None:
    assert SAMPLE_FILES, f"no samples found in {SAMPLES}"
    assert set(SKIPPED) <= set(SAMPLE_FILES)
