"""The lifecycle stream catches up over REST each time it (re)connects (issue #15 item 5): Kalshi does not
replay `market_lifecycle_v2` messages sent while nobody was connected, so a market that settled while the
feed's socket was down would otherwise stay "active" here until the next periodic sync (five minutes), with
its ticket open. Real simulator over loopback, the real stream, real Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings

from kalshiweb.exchange import default_credentials
from kalshiweb.kalshi.rest import KalshiClient
from markets.hub import market_channel, open_frame
from markets.lifecycle_feed import LifecycleStream
from markets.models import Market
from markets.sync import sync_markets
from tests.web.test_market_lifecycle_browser import wait_for_lifecycle_subscriber

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running_stream(sim, sim_settings) -> Iterator[LifecycleStream]:
    yield from run_stream()


def run_stream() -> Iterator[LifecycleStream]:
    stream = LifecycleStream(backoff_cap=0.5)
    loop = asyncio.new_event_loop()
    task = loop.create_task(stream.run())
    thread = threading.Thread(target=loop.run_until_complete, args=(task,), daemon=True)
    thread.start()
    try:
        yield stream
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_market_that_settled_while_the_stream_was_away_is_caught_up_on_reconnect(sim, running_stream):
    sync_markets()
    ticker = sim.call(lambda: next(t for t, m in sim.exchange.markets.items() if m.status == "active"))
    assert Market.objects.get(ticker=ticker).status == "active"
    wait_for_lifecycle_subscriber(sim)
    # The first connection's catch-up compares the rows before and after its own sync: one that snapshotted
    # them before this test's sync_markets() wrote the row, and synced after the settlement below, writes the
    # new status as a new row's and tells no page (the reconnect's catch-up then sees no change).
    wait_for(lambda: running_stream.catch_ups >= 1)
    pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(market_channel(ticker))

    sim.faults.silence(True)  # the settlement's lifecycle messages are lost, as in a dropped connection
    try:
        sim.call(sim.exchange.settle_market, ticker, "no")
        assert Market.objects.get(ticker=ticker).status == "active"
        assert sim.faults.drop_connections() >= 1
    finally:
        sim.faults.silence(False)

    wait_for(lambda: Market.objects.get(ticker=ticker).status == "finalized")
    assert Market.objects.get(ticker=ticker).result == "no"
    # and pages watching the market were told (badge + the ticket's re-render signal)
    frames = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(f.get("status") == "finalized" for f in frames):
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            frames.append(open_frame(ticker, message["data"]) or {})
    assert any(f.get("status") == "finalized" and "kw:market-status" in f["detail"] for f in frames)
    pubsub.close()


def test_a_new_event_and_market_are_listed_as_the_exchange_announces_them(sim, running_stream):
    from datetime import timedelta

    from kalshiweb.simulator.engine import Event as SimEvent
    from kalshiweb.simulator.engine import Market as SimMarket

    sync_markets()
    wait_for_lifecycle_subscriber(sim)
    series = sim.call(lambda: next(iter(sim.exchange.series)))

    def list_new() -> None:
        ex = sim.exchange
        ex.add_event(SimEvent("KXNEWLY-26DEC05", series, "A newly listed event"))
        ex.add_market(
            SimMarket(
                "KXNEWLY-26DEC05-A",
                "KXNEWLY-26DEC05",
                series,
                "Newly listed A",
                "Yes",
                "No",
                ex.now - timedelta(minutes=1),
                ex.now + timedelta(days=1),
            )
        )

    sim.call(list_new)
    wait_for(lambda: Market.objects.filter(ticker="KXNEWLY-26DEC05-A").exists())
    market = Market.objects.select_related("event").get(ticker="KXNEWLY-26DEC05-A")
    assert market.event.title == "A newly listed event" and market.status == "active"
    assert str(market.event.series_id) == series


def test_a_subscription_refused_at_first_is_made_on_a_fresh_connection(sim, sim_settings):
    """The exchange answers the lifecycle stream's first subscribe with a retryable error: the stream stayed
    connected and unsubscribed, and no status change reached a page until the connection happened to drop."""
    sim.faults.fail_commands(1)
    streams = run_stream()
    stream = next(streams)
    try:
        wait_for_lifecycle_subscriber(sim, timeout=10)
        wait_for(lambda: stream.catch_ups >= 1)
    finally:
        sim.faults.reset()
        streams.close()


class ChangesAfterTheListing(KalshiClient):
    """A real client for `sync_markets` (every request goes to the simulator): once the sync has read the
    exchange's list, and before it stores it, `change` runs and the lifecycle stream writes what it did."""

    def __init__(self, change: Callable[[], None]) -> None:
        key_id, key_path = default_credentials()
        super().__init__(settings.KALSHI_API_BASE, key_id=key_id, private_key=key_path)
        self.change = change

    def iter_markets(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        pages = super().iter_markets(*args, **kwargs)

        async def then_change() -> AsyncIterator[Any]:
            async for market in pages:
                yield market
            await asyncio.to_thread(self.change)

        return then_change()


def stream_caught_up(sim, stream: LifecycleStream) -> None:
    sync_markets()
    wait_for_lifecycle_subscriber(sim)
    wait_for(lambda: stream.catch_ups >= 1)  # the stream's own first catch-up is not the test's sync


def test_a_sync_that_read_the_market_before_it_settled_does_not_undo_the_settlement(sim, running_stream):
    """A market sync (the stream's own catch-up on connect, or the periodic one) reads the exchange's list,
    then writes it. A market that settles in between is written "finalized" by the lifecycle stream and then
    "active" again by the sync, from its older list: the ticket reopened on a settled market and no page was
    told (seen in CI as a badge that never said Finalized, and a ticket that never locked). Here the market
    settles, and the stream writes it, after the sync has its list and before it stores it."""
    stream_caught_up(sim, running_stream)
    ticker = sim.call(lambda: next(t for t, m in sim.exchange.markets.items() if m.status == "active"))

    def settle() -> None:
        sim.call(sim.exchange.settle_market, ticker, "yes")
        wait_for(lambda: Market.objects.get(ticker=ticker).status == "finalized")

    sync_markets(ChangesAfterTheListing(settle))  # its connections end with the loop it ran on
    row = Market.objects.get(ticker=ticker)
    assert (row.status, row.result) == ("finalized", "yes")


def test_a_market_listed_while_a_sync_runs_is_not_closed_as_gone(sim, running_stream):
    """A full sync closes the open markets its list lacks (gone from the exchange). One the exchange lists
    after the sync read its list (the stream lists it at once) is not gone: it stays open."""
    from datetime import timedelta

    from kalshiweb.simulator.engine import Market as SimMarket

    stream_caught_up(sim, running_stream)
    event = sim.call(lambda: next(m for m in sim.exchange.markets.values() if m.status == "active"))

    def list_one() -> None:
        ex = sim.exchange
        sim.call(
            lambda: ex.add_market(
                SimMarket(
                    f"{event.event_ticker}-LATE",
                    event.event_ticker,
                    event.series_ticker,
                    "Listed during a sync",
                    "Yes",
                    "No",
                    ex.now - timedelta(minutes=1),
                    ex.now + timedelta(days=1),
                )
            )
        )
        wait_for(lambda: Market.objects.filter(ticker=f"{event.event_ticker}-LATE").exists())

    sync_markets(ChangesAfterTheListing(list_one))
    assert Market.objects.get(ticker=f"{event.event_ticker}-LATE").status == "active"
