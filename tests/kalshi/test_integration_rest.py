"""KalshiClient against the built-in simulator over real loopback HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from kalshiweb.kalshi import (
    Conflict,
    InMemoryRateLimiter,
    InsufficientBalance,
    KalshiClient,
    KalshiSyncClient,
    NotFound,
    OrderRequest,
    OutcomeUnknown,
    RateLimitConfig,
    RateLimited,
    Unauthorized,
)
from kalshiweb.simulator.testing import RunningSimulator, start_simulator

D = Decimal


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=1, activity=0.0, rate_limit_tier="basic") as running:
        yield running


@pytest.fixture(autouse=True)
def clean_faults(sim: RunningSimulator) -> Iterator[None]:
    sim.faults.reset()
    yield
    sim.faults.reset()


@pytest.fixture
def account(sim: RunningSimulator) -> tuple[str, bytes]:
    return sim.add_account(D("1000"))


class CountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return await super().handle_async_request(request)


def make_client(sim: RunningSimulator, account: tuple[str, bytes], **kw) -> KalshiClient:
    key_id, pem = account
    kw.setdefault("limiter", InMemoryRateLimiter(RateLimitConfig.for_tier("basic")))
    kw.setdefault("timeout", 5.0)
    kw.setdefault("backoff_base", 0.01)
    return KalshiClient(sim.rest_base, key_id=key_id, private_key=pem, **kw)


async def open_ticker(client: KalshiClient) -> str:
    async for market in client.iter_markets(status="open"):
        return market.ticker
    raise AssertionError("the simulator has no open market")


async def test_market_data_endpoints_round_trip(sim: RunningSimulator, account) -> None:
    async with make_client(sim, account) as client:
        status = await client.get_exchange_status()
        assert status.exchange_active and status.trading_active

        first = await client.get_markets(limit=5)
        assert len(first.items) == 5 and first.cursor
        every = [m async for m in client.iter_markets(page_size=7)]
        assert len(every) > 7 and len({m.ticker for m in every}) == len(every)
        assert [m.ticker for m in every[:5]] == [m.ticker for m in first.items]

        market = next(m for m in every if m.status == "active")
        assert (await client.get_market(market.ticker)).ticker == market.ticker
        assert isinstance(market.yes_bid, Decimal) and market.close_time.tzinfo is not None

        book = await client.get_orderbook(market.ticker)
        assert book.yes or book.no
        assert all(book.yes[i][0] < book.yes[i + 1][0] for i in range(len(book.yes) - 1))
        shallow = await client.get_orderbook(market.ticker, depth=1)
        assert len(shallow.yes) <= 1 and (not book.yes or shallow.yes[-1] == book.yes[-1])
        many = await client.get_orderbooks([m.ticker for m in every[:3]])
        assert [b.ticker for b in many] == [m.ticker for m in every[:3]]

        trades = await client.get_trades(ticker=market.ticker, limit=5)
        assert all(t.ticker == market.ticker for t in trades.items)
        all_trades = [t async for t in client.iter_trades(ticker=market.ticker, page_size=3)]
        assert len(all_trades) >= len(trades.items)

        events = await client.get_events(limit=3)
        assert events.items
        all_events = [e async for e in client.iter_events(page_size=2)]
        assert len(all_events) >= len(events.items)
        event, markets = await client.get_event(market.event_ticker)
        assert event.event_ticker == market.event_ticker and market.ticker in {m.ticker for m in markets}
        series = await client.get_series(event.series_ticker)
        assert series.ticker == event.series_ticker
        assert any(s.ticker == series.ticker for s in await client.get_series_list())

        now = int(time.time())
        candles = await client.get_candlesticks(
            event.series_ticker, market.ticker, start_ts=now - 6 * 3600, end_ts=now, period_interval=60
        )
        assert candles and all(c.end_period.tzinfo is not None for c in candles)

        with pytest.raises(NotFound):
            await client.get_market("NO-SUCH-MARKET")


async def test_portfolio_and_order_endpoints_round_trip(sim: RunningSimulator, account) -> None:
    async with make_client(sim, account) as client:
        ticker = await open_ticker(client)
        balance = await client.get_balance()
        assert balance.balance == D("1000") and balance.balance_cents == 100000
        limits = await client.get_account_limits()
        assert limits.usage_tier == "basic" and limits.write.refill_rate == 100

        created = await client.create_order(ticker, "bid", 2, D("0.02"))
        assert created.remaining_count == D("2.00") and created.client_order_id
        order = await client.get_order(created.order_id)
        assert (
            order.status == "resting"
            and order.yes_price == D("0.02")
            and order.client_order_id == created.client_order_id
        )

        amended = await client.amend_order(
            created.order_id, ticker=ticker, side="bid", price=D("0.03"), count=4
        )
        assert amended.remaining_count == D("4.00")
        decreased = await client.decrease_order(created.order_id, reduce_by=1)
        assert decreased.remaining_count == D("3.00")
        canceled = await client.cancel_order(created.order_id)
        assert canceled.reduced_by == D("3.00")
        assert (await client.get_order(created.order_id)).status == "canceled"

        with pytest.raises(Conflict) as conflict:
            await client.create_order(ticker, "bid", 1, D("0.02"), client_order_id=created.client_order_id)
        assert conflict.value.client_order_id == created.client_order_id

        batch = await client.batch_create_orders(
            [OrderRequest(ticker, "bid", D(1), D("0.02"), str(uuid.uuid4())) for _ in range(3)]
            + [OrderRequest(ticker, "bid", D(1), D("0.02"), created.client_order_id)]
        )
        assert [b.error is None for b in batch] == [True, True, True, False]
        assert isinstance(batch[3].error, Conflict)
        cancels = await client.batch_cancel_orders([b.result.order_id for b in batch[:2] if b.result])
        assert all(c.result and c.result.reduced_by == D("1.00") for c in cancels)
        await client.cancel_all_orders()
        resting = [o async for o in client.iter_orders(ticker=ticker, status="resting")]
        assert resting == []
        page = await client.get_orders(ticker=ticker, limit=2)
        assert len(page.items) == 2 and page.cursor

        # cross the spread so there are fills and a position
        book = await client.get_orderbook(ticker)
        assert book.no, "the catalog market has NO bids to buy YES from"
        yes_ask = D(1) - book.no[-1][0]
        taken = await client.create_order(ticker, "bid", 1, yes_ask, time_in_force="immediate_or_cancel")
        assert taken.fill_count == D("1.00")
        fills = [f async for f in client.iter_fills(ticker=ticker)]
        assert fills and fills[0].order_id == taken.order_id and fills[0].count == D("1.00")
        assert (await client.get_fills(order_id=taken.order_id)).items
        positions = await client.get_positions(ticker=ticker)
        assert positions.market_positions[0].position == D("1.00")
        assert (await client.get_balance()).balance < D("1000")
        settlements = [s async for s in client.iter_settlements()]
        assert isinstance(settlements, list)


async def test_a_get_is_retried_after_429s_and_500s_and_succeeds(sim: RunningSimulator, account) -> None:
    transport = CountingTransport()
    async with make_client(sim, account, transport=transport) as client:
        sim.faults.fail_next(2, "429", path_prefix="/exchange/status")
        assert (await client.get_exchange_status()).exchange_active
        sim.faults.fail_next(1, "500", path_prefix="/exchange/status")
        assert (await client.get_exchange_status()).exchange_active
        assert transport.sent.count(("GET", "/trade-api/v2/exchange/status")) == 5


async def test_a_post_is_not_retried_after_429(sim: RunningSimulator, account) -> None:
    transport = CountingTransport()
    async with make_client(sim, account, transport=transport) as client:
        ticker = await open_ticker(client)
        sim.faults.fail_next(1, "429", path_prefix="/portfolio/events/orders")
        coid = str(uuid.uuid4())
        with pytest.raises(RateLimited) as exc_info:
            await client.create_order(ticker, "bid", 1, D("0.02"), client_order_id=coid)
        assert exc_info.value.retryable
        assert transport.sent.count(("POST", "/trade-api/v2/portfolio/events/orders")) == 1
        assert await client.find_order(client_order_id=coid, ticker=ticker) is None


async def test_a_timeout_after_accept_is_an_unknown_outcome_that_find_order_reconciles(
    sim: RunningSimulator, account
) -> None:
    transport = CountingTransport()
    async with make_client(sim, account, transport=transport, timeout=0.5) as client:
        ticker = await open_ticker(client)
        sim.faults.fail_next(
            1, "timeout_after_accept", path_prefix="/portfolio/events/orders", hang_seconds=2.0
        )
        with pytest.raises(OutcomeUnknown) as exc_info:
            await client.create_order(ticker, "bid", 1, D("0.02"))
        coid = exc_info.value.client_order_id
        assert coid
        assert transport.sent.count(("POST", "/trade-api/v2/portfolio/events/orders")) == 1
        found = await client.find_order(client_order_id=coid, ticker=ticker)
        assert found is not None and found.status == "resting"
        matching = [o async for o in client.iter_orders(ticker=ticker) if o.client_order_id == coid]
        assert len(matching) == 1


async def test_a_5xx_on_create_is_an_unknown_outcome(sim: RunningSimulator, account) -> None:
    async with make_client(sim, account) as client:
        ticker = await open_ticker(client)
        sim.faults.fail_next(1, "500", path_prefix="/portfolio/events/orders")
        with pytest.raises(OutcomeUnknown) as exc_info:
            await client.create_order(ticker, "bid", 1, D("0.02"))
        # the injected 500 was not processed: reconciliation finds nothing, so a resend is safe
        assert await client.find_order(client_order_id=exc_info.value.client_order_id, ticker=ticker) is None


async def test_errors_map_to_the_hierarchy(sim: RunningSimulator, account) -> None:
    key_id, _ = account
    _, other_pem = sim.add_account(D("1"))
    async with make_client(sim, (key_id, other_pem)) as wrong_key:
        with pytest.raises(Unauthorized):
            await wrong_key.get_balance()
    poor = sim.add_account(D("0.50"))
    async with make_client(sim, poor) as client:
        ticker = await open_ticker(client)
        with pytest.raises(InsufficientBalance):
            await client.create_order(ticker, "bid", 100, D("0.50"))


def test_the_sync_client_works_for_celery_tasks(sim: RunningSimulator, account) -> None:
    key_id, pem = account
    with KalshiSyncClient(sim.rest_base, key_id=key_id, private_key=pem) as client:
        ticker = next(iter(client.iter_markets(status="open"))).ticker
        created = client.create_order(ticker, "bid", 1, D("0.02"))
        assert client.get_order(created.order_id).status == "resting"
        assert client.find_order(client_order_id=created.client_order_id, ticker=ticker) is not None
        assert client.get_balance().updated <= datetime.now(UTC)
