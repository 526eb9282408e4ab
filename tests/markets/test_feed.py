"""The feed against the simulator over real loopback WS and a real Redis, with fault injection."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal as D
from typing import Any

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from markets.feed import HEALTH_KEY, Feed
from markets.hub import WATCH_PREFIX, market_channel, open_frame

pytestmark = pytest.mark.asyncio


def render(
    ticker: str, quote: dict[str, Any], book: dict[str, Any] | None, trades: list[dict[str, Any]]
) -> dict[str, Any]:
    # The real templates are exercised by test_publish; here the payload carries the raw state.
    return {"ticker": ticker, "row": json.dumps(quote), "detail": json.dumps(book)}


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


def open_ticker(sim) -> str:
    return sim.call(
        lambda: next(
            t
            for t, m in sim.exchange.markets.items()
            if m.status == "active" and m.price_level_structure == "linear_cent"
        )
    )


def sim_book(sim, ticker: str) -> tuple[list, list]:
    yes, no = sim.call(sim.exchange.book, ticker)
    return [(D(p), D(s)) for p, s in yes], [(D(p), D(s)) for p, s in no]


def feed_book(feed: Feed, ticker: str) -> tuple[list, list]:
    yes, no = feed.state.markets[ticker].book.levels()
    return list(yes), list(no)


@pytest.fixture
async def redis_client():
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    await client.delete("kw:feed:leader", HEALTH_KEY)
    async for key in client.scan_iter(match=f"{WATCH_PREFIX}*"):
        await client.delete(key)
    yield client
    await client.aclose()


def make_feed(sim, **options: Any) -> Feed:
    """A feed on `sim` with a fresh account key; `options` override the test defaults."""
    key_id, pem = sim.add_account()
    defaults: dict[str, Any] = {
        "interest_interval": 0.1,
        "lease_ttl_ms": 1500,
        "silence_timeout": 1.5,
        "backoff_cap": 0.5,
    }
    return Feed(
        redis_url=settings.REDIS_URL,
        ws_url=sim.ws_url,
        key_id=key_id,
        private_key=pem,
        render=render,
        **{**defaults, **options},
    )


@pytest.fixture
async def feed(sim, redis_client):
    feed = make_feed(sim)
    task = asyncio.create_task(feed.run())
    await wait_for(lambda: feed.is_leader and feed.stream is not None and feed.stream.connected)
    yield feed
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sim.faults.reset()


async def watch(redis_client, *tickers: str, key: str = "test-server") -> None:
    await redis_client.sadd(f"{WATCH_PREFIX}{key}", *tickers)
    await redis_client.expire(f"{WATCH_PREFIX}{key}", 30)


async def test_it_subscribes_upstream_only_to_watched_markets_and_drops_them_when_nobody_watches(
    sim, feed, redis_client
):
    ticker = open_ticker(sim)
    await watch(redis_client, ticker)
    await wait_for(lambda: feed.watched == {ticker} and not feed.state.markets[ticker].book.stale)
    assert feed.subscription is not None and feed.subscription.tickers == {ticker}
    await redis_client.delete(f"{WATCH_PREFIX}test-server")
    await wait_for(lambda: feed.watched == set())
    assert feed.subscription is None
    assert ticker not in feed.state.markets


async def test_it_keeps_the_book_equal_to_the_exchange_and_publishes_each_change(sim, feed, redis_client):
    ticker = open_ticker(sim)
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(market_channel(ticker))
    await watch(redis_client, ticker)
    await wait_for(lambda: ticker in feed.state.markets and not feed.state.markets[ticker].book.stale)
    yes, _ = sim_book(sim, ticker)
    price = (yes[-1][0] if yes else D("0.10")) - D("0.01")
    sim.call(
        sim.exchange.create_order,
        "sim-mm",
        ticker=ticker,
        side="bid",
        count=D("7"),
        price=price,
        time_in_force="good_till_canceled",
    )
    await wait_for(lambda: feed_book(feed, ticker) == sim_book(sim, ticker))
    message = await wait_for(lambda: pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2))
    assert open_frame(ticker, message["data"])["ticker"] == ticker  # signed for this market
    stored = json.loads(await redis_client.get(f"kw:quote:{ticker}"))
    assert stored["yes_bid"] is not None
    await pubsub.aclose()


async def test_it_recovers_the_book_after_the_upstream_connection_drops(sim, feed, redis_client):
    ticker = open_ticker(sim)
    await watch(redis_client, ticker)
    await wait_for(lambda: ticker in feed.state.markets and not feed.state.markets[ticker].book.stale)
    before = feed.stream.reconnect_count
    sim.faults.drop_connections()
    sim.call(
        sim.exchange.create_order,
        "sim-mm",
        ticker=ticker,
        side="bid",
        count=D("3"),
        price=D("0.02"),
        time_in_force="good_till_canceled",
    )
    await wait_for(lambda: feed.stream.reconnect_count > before)
    await wait_for(
        lambda: not feed.state.markets[ticker].book.stale and feed_book(feed, ticker) == sim_book(sim, ticker)
    )


async def test_it_resyncs_the_book_after_a_sequence_gap(sim, feed, redis_client):
    ticker = open_ticker(sim)
    await watch(redis_client, ticker)
    await wait_for(lambda: ticker in feed.state.markets and not feed.state.markets[ticker].book.stale)
    gaps = feed.stream.gap_count
    sim.faults.skip_seq(1)
    for _i in range(3):
        sim.call(
            sim.exchange.create_order,
            "sim-mm",
            ticker=ticker,
            side="bid",
            count=D("2"),
            price=D("0.03"),
            time_in_force="good_till_canceled",
        )
        await asyncio.sleep(0.05)
    await wait_for(lambda: feed.stream.gap_count > gaps)
    await wait_for(
        lambda: not feed.state.markets[ticker].book.stale and feed_book(feed, ticker) == sim_book(sim, ticker)
    )


async def test_the_watchdog_reconnects_a_silent_stream(sim, feed, redis_client):
    ticker = open_ticker(sim)
    await watch(redis_client, ticker)
    await wait_for(lambda: ticker in feed.state.markets and not feed.state.markets[ticker].book.stale)
    before = feed.stream.reconnect_count
    sim.faults.silence(True)
    await wait_for(lambda: feed.stream.reconnect_count > before, timeout=15)
    sim.faults.silence(False)
    await wait_for(lambda: not feed.state.markets[ticker].book.stale)


async def test_it_publishes_its_health(sim, feed, redis_client):
    async def connected_health():
        raw = await redis_client.get(HEALTH_KEY)
        return raw and json.loads(raw)["connected"] and json.loads(raw)

    data = await wait_for(connected_health)
    assert data["leader"] is True
    assert {"reconnects", "gaps", "watched", "last_message_age"} <= set(data)


async def test_a_standby_feed_takes_over_when_the_leader_dies(sim, redis_client):
    key_id, pem = sim.add_account()

    def make() -> Feed:
        return Feed(
            redis_url=settings.REDIS_URL,
            ws_url=sim.ws_url,
            key_id=key_id,
            private_key=pem,
            render=render,
            interest_interval=0.1,
            lease_ttl_ms=1500,
            backoff_cap=0.5,
        )

    first, second = make(), make()
    first_task = asyncio.create_task(first.run())
    await wait_for(lambda: first.is_leader)
    second_task = asyncio.create_task(second.run())
    await asyncio.sleep(1.0)
    assert not second.is_leader  # only one leads
    # Kill the leader without releasing its lease, as a crash would.
    first.release_lease_on_exit = False
    first_task.cancel()
    await asyncio.gather(first_task, return_exceptions=True)
    started = time.monotonic()
    await wait_for(
        lambda: second.is_leader and second.stream is not None and second.stream.connected, timeout=10
    )
    assert time.monotonic() - started < 5
    second_task.cancel()
    await asyncio.gather(second_task, return_exceptions=True)


async def test_a_newly_watched_market_gets_its_recent_trades_from_rest(sim, redis_client):
    from kalshiweb.kalshi.rest import KalshiClient

    ticker = open_ticker(sim)
    expected = sim.call(lambda: len(sim.exchange.trades(ticker)))
    assert expected > 0  # the catalog seeds trade history

    async def seed(t: str) -> list[dict[str, Any]]:
        async with KalshiClient(sim.rest_base) as client:
            page = await client.get_trades(ticker=t, limit=30)
        return [
            {"price": str(tr.yes_price), "count": str(tr.count), "side": tr.taker_outcome_side, "time": "x"}
            for tr in page.items
        ]

    key_id, pem = sim.add_account()
    feed = Feed(
        redis_url=settings.REDIS_URL,
        ws_url=sim.ws_url,
        key_id=key_id,
        private_key=pem,
        render=render,
        seed_trades=seed,
        interest_interval=0.1,
    )
    task = asyncio.create_task(feed.run())
    try:
        await wait_for(lambda: feed.is_leader and feed.stream is not None and feed.stream.connected)
        await watch(redis_client, ticker)
        await wait_for(
            lambda: (
                ticker in feed.state.markets and len(feed.state.markets[ticker].trades) == min(30, expected)
            )
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


BOGUS = "KXNOPE-26DEC31-T1"  # well-formed, but no such market on the exchange


async def improve_bid(sim, ticker: str) -> None:
    yes, _ = sim_book(sim, ticker)
    price = (yes[-1][0] if yes else D("0.10")) - D("0.01")
    sim.call(
        sim.exchange.create_order,
        "sim-mm",
        ticker=ticker,
        side="bid",
        count=D("3"),
        price=max(price, D("0.01")),
        time_in_force="good_till_canceled",
    )


async def test_an_unknown_ticker_is_dropped_and_every_other_market_stays_live(sim, feed, redis_client):
    """One bogus ticker in any server's watch set must not freeze market data for everyone (issue #12.2)."""
    ticker = open_ticker(sim)
    await watch(redis_client, ticker)
    await wait_for(lambda: ticker in feed.state.markets and not feed.state.markets[ticker].book.stale)
    await watch(redis_client, BOGUS, key="attacker-server")
    await wait_for(lambda: BOGUS in feed.rejected)
    assert BOGUS not in feed.watched and BOGUS not in (feed.subscription.tickers or set())
    await improve_bid(sim, ticker)
    await wait_for(lambda: feed_book(feed, ticker) == sim_book(sim, ticker))
    # The rejected ticker is not retried every second: the subscription stays as the exchange accepted it.
    errors_before = feed.upstream_errors
    await asyncio.sleep(1.0)
    assert feed.upstream_errors == errors_before
    # A reconnect restores the subscription (the bogus ticker is not part of it).
    before = feed.stream.reconnect_count
    sim.faults.drop_connections()
    await wait_for(lambda: feed.stream.reconnect_count > before and not feed.state.markets[ticker].book.stale)
    await improve_bid(sim, ticker)
    await wait_for(lambda: feed_book(feed, ticker) == sim_book(sim, ticker))
    assert feed.health()["connected"] is True


async def test_a_market_gone_from_the_exchange_does_not_block_the_restore(sim, feed, redis_client):
    from tests.simulator.simhelp import add_markets

    keep, gone = add_markets(sim, ["KXFEEDT-26DEC31-KEEP", "KXFEEDT-26DEC31-GONE"], event="KXFEEDT-26DEC31")
    await watch(redis_client, keep, gone)
    await wait_for(
        lambda: all(t in feed.state.markets and not feed.state.markets[t].book.stale for t in (keep, gone))
    )
    sim.call(sim.exchange.markets.pop, gone)  # the exchange no longer knows it; our watchers still ask for it
    before = feed.stream.reconnect_count
    sim.faults.drop_connections()
    await wait_for(lambda: feed.stream.reconnect_count > before)
    await wait_for(lambda: gone in feed.rejected and not feed.state.markets[keep].book.stale, timeout=15)
    assert feed.health()["connected"] is True
    assert feed.subscription is not None and feed.subscription.active.is_set()


async def test_the_health_is_not_connected_while_the_subscription_is_not_restored(sim, feed, redis_client):
    ticker = open_ticker(sim)
    await watch(redis_client, ticker)
    await wait_for(lambda: feed.subscription is not None and feed.subscription.active.is_set())
    feed.subscription.active.clear()  # as between a reconnect and the exchange's answer to the restore
    assert feed.health()["connected"] is False
    assert "subscription" in feed.health()["problem"]


async def test_quiet_markets_on_a_live_connection_do_not_trip_the_watchdog(redis_client):
    """No trades or deltas for longer than the silence timeout is normal on a quiet exchange; the server's
    pings show the connection is alive, so the feed must not reconnect (issue #12.6)."""
    from kalshiweb.simulator.testing import start_simulator

    with start_simulator(seed=1, activity=0.0, rate_limit_tier=None, ping_interval=0.3) as quiet:
        feed = make_feed(quiet, silence_timeout=1.0)
        task = asyncio.create_task(feed.run())
        try:
            await wait_for(lambda: feed.is_leader and feed.stream is not None and feed.stream.connected)
            ticker = open_ticker(quiet)
            await watch(redis_client, ticker)
            await wait_for(lambda: ticker in feed.state.markets and not feed.state.markets[ticker].book.stale)
            quiet.faults.silence(True)  # no data at all, pings go on
            await asyncio.sleep(3.5)
            assert feed.stream.reconnect_count == 0
            assert feed.health()["connected"] is True
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_newly_watched_markets_seed_their_tape_one_at_a_time_through_a_bounded_queue(sim, redis_client):
    """Watching many markets at once must not flood the exchange with trade-history calls (issue #12.7)."""
    calls: list[str] = []
    running = 0
    most = 0

    async def seed(ticker: str) -> list[dict[str, Any]]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        calls.append(ticker)
        await asyncio.sleep(0.2)
        running -= 1
        return []

    feed = make_feed(sim, seed_trades=seed, seed_queue_size=5, silence_timeout=30.0)
    tickers = sim.call(lambda: sorted(t for t, m in sim.exchange.markets.items() if m.status == "active"))[
        :40
    ]
    task = asyncio.create_task(feed.run())
    try:
        await wait_for(lambda: feed.is_leader and feed.stream is not None and feed.stream.connected)
        await watch(redis_client, *tickers)
        await wait_for(lambda: feed.watched == set(tickers))
        await asyncio.sleep(0.5)
        assert most == 1  # one call at a time
        assert feed.seeds_dropped >= len(tickers) - 6  # the queue holds 5; the rest fill from the stream
        assert len(calls) <= 6
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_new_leader_says_connected_before_it_publishes_live_data(sim, redis_client):
    """The order ticket refuses to trade while the health key says the feed is down. A feed that takes the lease
    wrote "not connected" at once and corrected it only at its next health write, a second later: for that
    second its fresh books reached the pages (Live, ticket enabled) while every order was refused with "the
    exchange feed is down" (seen in the topology test after the leader was killed). The health key must say
    connected by the time the first live book is published."""
    from markets import live

    ticker = open_ticker(sim)
    feed = make_feed(sim)
    await watch(redis_client, ticker)
    await redis_client.delete(live.book_key(ticker))
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(market_channel(ticker))
    task = asyncio.create_task(feed.run())
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if message is None:
                continue
            book = json.loads(await redis_client.get(live.book_key(ticker)) or "null")
            if book and book.get("ts"):
                break
        else:
            raise AssertionError("the feed published no live book")
        health = json.loads(await redis_client.get(HEALTH_KEY) or "null")
        assert health is not None and health["connected"] is True, health
    finally:
        await pubsub.aclose()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
