"""KalshiClient's historical-data, queue-position and cash-history reads against the simulator over loopback
HTTP (issue #15: history)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from kalshiweb.kalshi import NotFound, ProtocolError
from kalshiweb.kalshi.types.history import HistoricalCandlestick
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from tests.helpers import sim_post
from tests.kalshi.test_integration_rest import make_client
from tests.simulator.simhelp import Trader, add_markets

D = Decimal
OLD = "KXHISTC-26DEC31-T0"
LIVE = "KXHISTC-26DEC31-T1"


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[RunningSimulator, Trader, Trader]]:
    with start_simulator(catalog=False, rate_limit_tier=None) as running:
        add_markets(running, [OLD], event="KXHISTC-OLD")
        add_markets(running, [LIVE], event="KXHISTC-LIVE")
        alice, bob = Trader(running, D("500")), Trader(running, D("500"))
        assert bob.order(OLD, "ask", "2", "0.3000").status_code == 201
        assert alice.order(OLD, "bid", "2", "0.3000").status_code == 201
        sim_post(running, f"/_sim/markets/{OLD}/settle", {"result": "no"})
        sim_post(running, "/_sim/cash/deposit", {"key_id": alice.key_id, "amount": "25.50", "type": "wire"})
        time.sleep(0.3)
        sim_post(running, "/_sim/historical/cutoff", {})
        yield running, alice, bob
        alice.close()
        bob.close()


async def test_historical_reads_parse_into_the_clients_types(sim) -> None:
    running, alice, _bob = sim
    async with make_client(running, (alice.key_id, alice.private_pem)) as client:
        cutoff = await client.get_historical_cutoff()
        assert cutoff.trades_created.tzinfo is not None
        assert cutoff.market_settled == cutoff.orders_updated

        page = await client.get_historical_markets(tickers=[OLD, LIVE])
        assert [m.ticker for m in page.items] == [OLD]
        assert (await client.get_historical_market(OLD)).result == "no"
        with pytest.raises(NotFound):
            await client.get_historical_market(LIVE)

        fills = [f async for f in client.iter_historical_fills()]
        assert [(f.ticker, f.count, f.yes_price) for f in fills] == [(OLD, D("2.00"), D("0.3000"))]
        assert (await client.get_fills()).items == ()  # the live side no longer has it
        orders = [o async for o in client.iter_historical_orders(ticker=OLD)]
        assert [o.status for o in orders] == ["executed"]
        trades = await client.get_historical_trades(ticker=OLD)
        assert [t.count for t in trades.items] == [D("2.00")]
        positions = await client.get_historical_positions()
        assert [p.ticker for p in positions.market_positions] == [OLD]

        now = int(time.time())
        candles = await client.get_historical_candlesticks(
            OLD, start_ts=now - 600, end_ts=now + 60, period_interval=1
        )
        traded = [c for c in candles if c.volume > 0]
        assert [c.price.close for c in traded] == [D("0.3000")]
        assert all(c.price.close is None for c in candles if c.volume == 0)


async def test_queue_positions_and_cash_history(sim) -> None:
    running, alice, bob = sim
    async with make_client(running, (alice.key_id, alice.private_pem)) as client:
        assert bob.order(LIVE, "bid", "5", "0.1000").status_code == 201
        mine = alice.order(LIVE, "bid", "1", "0.1000").json()["order_id"]
        assert await client.get_queue_position(mine) == D("5.00")
        rows = await client.get_queue_positions(market_tickers=[LIVE])
        assert [(r.order_id, r.market_ticker, r.queue_position) for r in rows] == [(mine, LIVE, D("5.00"))]

        deposits = (await client.get_deposits()).items
        assert sorted((d.amount, d.type, d.status) for d in deposits) == [
            (D("25.5"), "wire", "applied"),
            (D("500"), "ach", "applied"),
        ]
        assert (await client.get_withdrawals()).items == ()


def test_a_historical_candle_without_trades_has_no_price() -> None:
    candle = HistoricalCandlestick.from_dict(
        {
            "end_period_ts": 1,
            "yes_bid": {"open": "0.1", "low": "0.1", "high": "0.1", "close": "0.1"},
            "yes_ask": {"open": "0.2", "low": "0.2", "high": "0.2", "close": "0.2"},
            "price": {
                "open": None,
                "low": None,
                "high": None,
                "close": None,
                "mean": None,
                "previous": "0.15",
            },
            "volume": "0.00",
            "open_interest": "3.00",
        }
    ).as_candlestick()
    assert candle.price.close is None and candle.yes_bid.close == D("0.1")
    with pytest.raises(ProtocolError):
        HistoricalCandlestick.from_dict({"end_period_ts": 1})
