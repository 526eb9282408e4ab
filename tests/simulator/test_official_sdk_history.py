"""Kalshi's official SDK (kalshi-python-sync 3.34, strict pydantic models) reads the simulator's historical
data, queue positions and cash history (issue #15: history) over real HTTP and accepts every answer."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import add_markets
from .test_official_sdk import client_for, order_args

kalshi = pytest.importorskip("kalshi_python_sync")
from kalshi_python_sync import KalshiClient  # noqa: E402

OLD, LIVE = "KXSDKH-OLD-T0", "KXSDKH-LIVE-T0"


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=5, activity=0.0, rate_limit_tier=None, catalog=False) as running:
        add_markets(running, [OLD], event="KXSDKH-OLD")
        add_markets(running, [LIVE], event="KXSDKH-LIVE")
        yield running


def test_the_sdk_reads_history_queue_positions_and_cash(sim: RunningSimulator) -> None:
    alice: KalshiClient = client_for(sim)
    bob: KalshiClient = client_for(sim)
    alice.create_order_v2(**order_args(OLD, "bid", "2", "0.35"))
    bob.create_order_v2(**order_args(OLD, "ask", "2", "0.35", time_in_force="immediate_or_cancel"))
    base = sim.rest_base.split("/trade-api")[0]
    assert httpx.post(f"{base}/_sim/markets/{OLD}/settle", json={"result": "yes"}).status_code == 200
    time.sleep(0.3)
    assert httpx.post(f"{base}/_sim/historical/cutoff", json={}).status_code == 200

    assert alice.get_historical_cutoff().trades_created_ts
    assert [m.ticker for m in alice.get_historical_markets(limit=10).markets] == [OLD]
    assert alice.get_historical_market(OLD).market.result == "yes"
    now = int(time.time())
    candles = alice.get_market_candlesticks_historical(
        OLD, start_ts=now - 600, end_ts=now + 60, period_interval=1
    )
    assert candles.ticker == OLD and candles.candlesticks
    assert len(alice.get_trades_historical(ticker=OLD).trades) == 1
    assert [f.ticker for f in alice.get_fills_historical(min_ts=now - 600).fills] == [OLD]
    assert [o.ticker for o in alice.get_historical_orders().orders] == [OLD]
    assert [p.ticker for p in alice.get_historical_positions().market_positions] == [OLD]

    bob.create_order_v2(**order_args(LIVE, "bid", "3", "0.10"))
    mine = alice.create_order_v2(**order_args(LIVE, "bid", "1", "0.10")).order_id
    assert alice.get_order_queue_position(mine).queue_position_fp == "3.00"
    rows = alice.get_order_queue_positions(market_tickers=LIVE).queue_positions
    assert [(r.order_id, r.queue_position_fp) for r in rows] == [(mine, "3.00")]
    assert [d.amount_cents for d in alice.get_deposits().deposits] == [100000]
    assert alice.get_withdrawals().withdrawals == []
