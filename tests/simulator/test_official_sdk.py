"""Kalshi's official generated SDK (kalshi-python-sync 3.34, strict pydantic models) drives the simulator over
real HTTP: every endpoint both implement must answer something the SDK accepts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import EVENT, SERIES, add_markets

kalshi = pytest.importorskip("kalshi_python_sync")
from kalshi_python_sync import Configuration, KalshiClient  # noqa: E402
from kalshi_python_sync.models import (  # noqa: E402
    BatchCancelOrdersV2RequestOrdersInner,
    CreateOrderV2Request,
)

TICKERS = [f"KXSDK-{i}" for i in range(4)]


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=3, activity=0.0, rate_limit_tier=None) as running:  # the real catalog
        add_markets(running, TICKERS, event=EVENT)
        yield running


def client_for(sim: RunningSimulator, balance: Decimal = Decimal("1000")) -> KalshiClient:
    key_id, private_pem = sim.add_account(balance)
    config = Configuration(host=sim.rest_base)
    config.api_key_id = key_id
    config.private_key_pem = private_pem.decode()
    return KalshiClient(config)


@pytest.fixture(scope="module")
def alice(sim: RunningSimulator) -> KalshiClient:
    return client_for(sim)


@pytest.fixture(scope="module")
def bob(sim: RunningSimulator) -> KalshiClient:
    return client_for(sim)


def order_args(ticker: str, side: str, count: str, price: str, **extra: object) -> dict[str, object]:
    return {
        "ticker": ticker,
        "side": side,
        "count": count,
        "price": price,
        "time_in_force": extra.pop("time_in_force", "good_till_canceled"),
        "self_trade_prevention_type": "taker_at_cross",
        **extra,
    }


def test_exchange(alice: KalshiClient) -> None:
    assert alice.get_exchange_status().trading_active is True
    assert alice.get_exchange_schedule().schedule.standard_hours
    limits = alice.get_account_api_limits()
    assert limits.read.refill_rate > 0


def test_markets_pagination_and_market(alice: KalshiClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = alice.get_markets(limit=7, cursor=cursor)
        seen += [m.ticker for m in page.markets]
        cursor = page.cursor
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(TICKERS) <= set(seen)
    assert len(seen) > 20  # the catalog plus ours
    for status in ("open", "closed", "settled"):
        alice.get_markets(limit=1000, status=status)
    market = alice.get_market(TICKERS[0]).market
    assert market.ticker == TICKERS[0]


def test_every_catalog_market_event_and_series_parses(alice: KalshiClient) -> None:
    markets = alice.get_markets(limit=1000).markets
    assert {m.status for m in markets} >= {"active"}
    events = alice.get_events(limit=200, with_nested_markets=True).events
    assert events and any(e.markets for e in events)
    event = alice.get_event(events[0].event_ticker, with_nested_markets=True)
    assert event.event.event_ticker == events[0].event_ticker
    series = alice.get_series_list().series
    assert any(s.ticker == SERIES for s in series)
    assert alice.get_series(series[0].ticker).series.ticker == series[0].ticker


def test_orderbooks_trades_candles(alice: KalshiClient, bob: KalshiClient) -> None:
    ticker = TICKERS[1]
    alice.create_order_v2(**order_args(ticker, "bid", "5", "0.40"))
    alice.create_order_v2(**order_args(ticker, "ask", "5", "0.65"))
    bob.create_order_v2(**order_args(ticker, "ask", "2", "0.40", time_in_force="immediate_or_cancel"))
    book = alice.get_market_orderbook(ticker, depth=10).orderbook_fp
    assert book.yes_dollars and book.no_dollars
    books = alice.get_market_orderbooks(tickers=[ticker, TICKERS[2]]).orderbooks
    assert [b.ticker for b in books] == [ticker, TICKERS[2]]
    trades = alice.get_trades(ticker=ticker, limit=10).trades
    assert trades and trades[0].ticker == ticker
    now = int(time.time())
    candles = alice.get_market_candlesticks(
        SERIES, ticker, start_ts=now - 3600, end_ts=now + 60, period_interval=1
    )
    assert candles.ticker == ticker
    batch = alice.batch_get_market_candlesticks(
        market_tickers=f"{ticker},{TICKERS[0]}", start_ts=now - 3600, end_ts=now + 60, period_interval=60
    )
    assert len(batch.markets) == 2


def test_portfolio_reads(sim: RunningSimulator, alice: KalshiClient, bob: KalshiClient) -> None:
    ticker = TICKERS[3]
    alice.create_order_v2(**order_args(ticker, "bid", "3", "0.55"))
    bob.create_order_v2(**order_args(ticker, "ask", "3", "0.55", time_in_force="fill_or_kill"))
    balance = alice.get_balance()
    assert isinstance(balance.balance, int)
    positions = alice.get_positions(limit=100, settlement_status="all")
    assert any(p.ticker == ticker for p in positions.market_positions)
    fills = alice.get_fills(ticker=ticker, limit=10).fills
    assert fills and fills[0].ticker == ticker
    sim.call(sim.exchange.settle_market, ticker, "yes")
    settlements = alice.get_settlements(limit=10).settlements
    assert settlements[0].ticker == ticker and settlements[0].revenue == 300
    orders = alice.get_orders(limit=100).orders
    assert orders
    assert alice.get_order(orders[0].order_id).order.order_id == orders[0].order_id


def test_v2_writes(alice: KalshiClient) -> None:
    ticker = TICKERS[0]
    created = alice.create_order_v2(**order_args(ticker, "bid", "10", "0.20", client_order_id="sdk-1"))
    assert created.remaining_count == "10.00" and created.client_order_id == "sdk-1"
    amended = alice.amend_order_v2(
        created.order_id, ticker=ticker, side="bid", price="0.21", count="8", updated_client_order_id="sdk-2"
    )
    assert amended.order_id == created.order_id
    decreased = alice.decrease_order_v2(created.order_id, reduce_by="2")
    assert decreased.remaining_count == "6.00"
    canceled = alice.cancel_order_v2(created.order_id)
    assert canceled.reduced_by == "6.00"

    batch = alice.batch_create_orders_v2(
        orders=[
            CreateOrderV2Request(**order_args(ticker, "bid", "1", "0.05")),
            CreateOrderV2Request(**order_args(ticker, "bid", "1", "0.055")),  # off grid: a per-item error
        ]
    ).orders
    assert batch[0].order_id and batch[1].error is not None and batch[1].error.code == "invalid_order"
    cancels = alice.batch_cancel_orders_v2(
        orders=[BatchCancelOrdersV2RequestOrdersInner(order_id=batch[0].order_id)]
    ).orders
    assert cancels[0].reduced_by == "1.00"

    alice.create_order_v2(**order_args(ticker, "bid", "1", "0.06"))
    assert alice.cancel_all_orders() is None
    assert alice.get_orders(status="resting").orders == []
