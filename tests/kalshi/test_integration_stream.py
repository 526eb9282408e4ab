"""KalshiStream against the built-in simulator over a real loopback WebSocket, with fault injection."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from kalshiweb.kalshi import KalshiClient, KalshiStream, Unauthorized, WebSocketError
from kalshiweb.kalshi.messages import Fill, OrderbookDelta, OrderbookSnapshot, Trade, UserOrder
from kalshiweb.kalshi.stream import Connected, Disconnected, SequenceGap, StreamError, SubscriptionsRestored
from kalshiweb.simulator.testing import RunningSimulator, start_simulator

D = Decimal
ACTIVITY = 900.0  # bot actions per market per simulated minute


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(seed=2, activity=ACTIVITY, rate_limit_tier=None, ping_interval=0.3) as running:
        yield running


@pytest.fixture(autouse=True)
def active_market(sim: RunningSimulator) -> Iterator[None]:
    sim.faults.reset()
    sim.call(sim.exchange.set_activity, ACTIVITY)
    yield
    sim.faults.reset()
    sim.call(sim.exchange.set_activity, ACTIVITY)


@pytest.fixture(scope="module")
def account(sim: RunningSimulator) -> tuple[str, bytes]:
    return sim.add_account(D("10000"))


@pytest.fixture
async def client(sim: RunningSimulator, account) -> AsyncIterator[KalshiClient]:
    key_id, pem = account
    async with KalshiClient(sim.rest_base, key_id=key_id, private_key=pem, timeout=5) as c:
        yield c


@pytest.fixture
async def tickers(client: KalshiClient) -> list[str]:
    out = []
    async for market in client.iter_markets(status="open"):
        out.append(market.ticker)
    return out[:3]


def make_stream(sim: RunningSimulator, account, **kw) -> KalshiStream:
    key_id, pem = account
    kw.setdefault("backoff_initial", 0.05)
    kw.setdefault("backoff_cap", 0.2)
    kw.setdefault("command_timeout", 3.0)
    return KalshiStream(sim.ws_url, key_id=key_id, private_key=pem, **kw)


async def wait_until(pred: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def next_matching(stream: KalshiStream, pred: Callable[[Any], bool], timeout: float = 8.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching stream item in time")
        try:
            item = await stream.next(remaining)
        except TimeoutError:
            continue
        if pred(item):
            return item


async def quiesce(sim: RunningSimulator) -> None:
    """Stop the bots and let in-flight messages arrive, so the REST book and the stream book can be compared."""
    sim.call(sim.exchange.set_activity, 0.0)
    await asyncio.sleep(0.4)


async def assert_books_match_rest(stream: KalshiStream, client: KalshiClient, tickers: list[str]) -> None:
    await wait_until(lambda: all(t in stream.books and not stream.books[t].stale for t in tickers))
    for ticker in tickers:
        rest = await client.get_orderbook(ticker)
        assert stream.books[ticker].levels() == (rest.yes, rest.no), ticker


async def test_a_book_maintained_from_the_stream_equals_the_rest_book(sim, account, client, tickers) -> None:
    async with make_stream(sim, account) as stream:
        handle = await stream.subscribe(["orderbook_delta", "ticker", "trade"], tickers)
        assert set(handle.sids) == {"orderbook_delta", "ticker", "trade"}
        deltas = 0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            item = await stream.next(2.0)
            deltas += isinstance(item, OrderbookDelta)
        assert deltas > 10
        await quiesce(sim)
        await assert_books_match_rest(stream, client, tickers)
        health = stream.health()
        assert health.connected and health.gap_count == 0 and health.reconnect_count == 0
        assert health.messages_per_second > 0
        assert set(health.last_message_age) == {"orderbook_delta", "ticker", "trade"}
        assert health.last_ping_age is not None and health.last_ping_age < 2


async def test_markets_are_added_and_removed_without_reconnecting(sim, account, client, tickers) -> None:
    async with make_stream(sim, account) as stream:
        handle = await stream.subscribe("orderbook_delta", tickers[:1])
        sid = handle.sids["orderbook_delta"]
        await wait_until(lambda: tickers[0] in stream.books and not stream.books[tickers[0]].stale)
        await stream.add_markets(handle, tickers[1:])
        await wait_until(lambda: all(t in stream.books and not stream.books[t].stale for t in tickers))
        await stream.delete_markets(handle, tickers[2:])
        assert tickers[2] not in stream.books
        assert handle.sids["orderbook_delta"] == sid and stream.reconnect_count == 0
        subs = await stream.list_subscriptions()
        assert [(s.channel, s.sid) for s in subs] == [("orderbook_delta", sid)]
        await quiesce(sim)
        await assert_books_match_rest(stream, client, tickers[:2])
        await stream.unsubscribe(handle)
        assert await stream.list_subscriptions() == ()


async def test_a_dropped_connection_reconnects_and_restores_every_subscription(
    sim, account, client, tickers
) -> None:
    async with make_stream(sim, account) as stream:
        books = await stream.subscribe(["orderbook_delta"], tickers)
        public = await stream.subscribe(["ticker", "trade"], tickers)
        private = await stream.subscribe(["fill", "user_orders", "market_positions"])
        before = {**books.sids, **public.sids, **private.sids}
        assert sim.faults.drop_connections() == 1
        await next_matching(stream, lambda i: isinstance(i, Disconnected))
        connected = await next_matching(stream, lambda i: isinstance(i, Connected))
        assert connected.reconnect_count == 1
        await wait_until(lambda: all(h.active.is_set() for h in (books, public, private)))
        after = {**books.sids, **public.sids, **private.sids}
        assert set(after) == set(before) and all(after[c] != before[c] for c in before)
        listed = await stream.list_subscriptions()
        assert sorted(s.channel for s in listed) == sorted(before)
        assert {s.sid for s in listed} == set(after.values())
        await quiesce(sim)
        await assert_books_match_rest(stream, client, tickers)
        assert stream.health().reconnect_count == 1


async def test_a_skipped_seq_is_reported_and_the_book_is_resnapshotted(sim, account, client, tickers) -> None:
    async with make_stream(sim, account) as stream:
        handle = await stream.subscribe("orderbook_delta", tickers)
        await wait_until(lambda: all(t in stream.books and not stream.books[t].stale for t in tickers))
        sim.faults.skip_seq(3)
        gap = await next_matching(stream, lambda i: isinstance(i, SequenceGap))
        assert gap.sid == handle.sids["orderbook_delta"] and gap.received == gap.expected + 3
        assert gap.market_tickers == tuple(sorted(tickers))
        # fresh snapshots come back as replies to get_snapshot (they carry the command id)
        await next_matching(stream, lambda i: isinstance(i, OrderbookSnapshot) and i.command_id is not None)
        assert stream.health().gap_count >= 1 and stream.reconnect_count == 0
        await quiesce(sim)
        await assert_books_match_rest(stream, client, tickers)


async def test_a_quiet_subscription_on_a_live_connection_is_not_reconnected(sim, account, tickers) -> None:
    """No data for longer than the silence timeout, with the server's pings arriving: quiet markets, not a
    dead feed (issue #12.6: reconnecting every 30-60 s on a quiet exchange paused every ticket)."""
    # Pings every 0.3 s against a 3 s timeout: a watchdog that ignored pings would reconnect twice in the 6.5 s
    # of silence; with 1 s, then 2 s, loaded CI machines delayed a ping past the timeout.
    async with make_stream(sim, account, silence_timeout=3.0) as stream:
        handle = await stream.subscribe("orderbook_delta", tickers)
        assert handle.watchdog
        await wait_until(lambda: all(t in stream.books and not stream.books[t].stale for t in tickers))
        sim.faults.silence(True)
        await asyncio.sleep(6.5)
        assert stream.reconnect_count == 0 and stream.connected
        assert all(not stream.books[t].stale for t in tickers)


async def test_a_connection_with_no_frames_and_no_pings_is_reconnected_by_the_watchdog(account) -> None:
    with start_simulator(seed=2, activity=0.0, rate_limit_tier=None, ping_interval=30.0) as silent:
        key_id, pem = silent.add_account(D("10"))
        ticker = silent.call(
            lambda: next(t for t, m in silent.exchange.markets.items() if m.status == "active")
        )
        async with make_stream(silent, (key_id, pem), silence_timeout=1.0) as stream:
            handle = await stream.subscribe("orderbook_delta", [ticker])
            await wait_until(lambda: ticker in stream.books and not stream.books[ticker].stale)
            silent.faults.silence(True)
            dropped = await next_matching(stream, lambda i: isinstance(i, Disconnected), timeout=6)
            assert "no data, no pings" in dropped.reason
            silent.faults.silence(False)
            await wait_until(lambda: stream.reconnect_count >= 1 and handle.active.is_set())
            await wait_until(lambda: not stream.books[ticker].stale)


async def test_markets_the_exchange_refuses_are_dropped_and_the_rest_subscribed(
    sim, account, tickers
) -> None:
    bogus = ["KXNOPE-26DEC31-A", "KXNOPE-26DEC31-B"]
    async with make_stream(sim, account) as stream:
        handle = await stream.subscribe("orderbook_delta", [tickers[0], bogus[0]])
        assert handle.tickers == {tickers[0]} and handle.rejected == {bogus[0]}
        refused = await stream.add_markets(handle, [bogus[1], tickers[1]])
        assert refused == [bogus[1]] and handle.tickers == {tickers[0], tickers[1]}
        await wait_until(lambda: all(t in stream.books and not stream.books[t].stale for t in tickers[:2]))
        sim.faults.drop_connections()
        await wait_until(lambda: stream.reconnect_count >= 1 and handle.active.is_set())
        await wait_until(lambda: all(not stream.books[t].stale for t in tickers[:2]))


async def test_refused_markets_are_found_by_halving_when_the_error_names_none(
    sim, account, tickers, monkeypatch
) -> None:
    from kalshiweb.simulator import ws as sim_ws

    original = sim_ws.Session.error

    def anonymous(self, cmd_id, code, sid=None, *, market_ticker=None):
        return original(self, cmd_id, code, sid)  # an exchange that does not say which market

    monkeypatch.setattr(sim_ws.Session, "error", anonymous)
    bogus = ["KXNOPE-26DEC31-C", "KXNOPE-26DEC31-D"]
    async with make_stream(sim, account) as stream:
        handle = await stream.subscribe("orderbook_delta", [tickers[0], bogus[0], tickers[1], bogus[1]])
        assert handle.tickers == set(tickers[:2]) and handle.rejected == set(bogus)
        await wait_until(lambda: all(t in stream.books and not stream.books[t].stale for t in tickers[:2]))


async def test_error_frames_become_websocket_errors(sim, account) -> None:
    async with make_stream(sim, account) as stream:
        with pytest.raises(WebSocketError) as unknown:
            await stream.subscribe("no_such_channel")
        assert unknown.value.ws_code == 8
        with pytest.raises(WebSocketError) as no_market:
            await stream.subscribe("orderbook_delta")
        assert no_market.value.ws_code == 14
        assert stream.health().subscriptions == 0 and stream.connected


async def test_a_subscription_the_exchange_does_not_restore_is_restored_on_a_fresh_connection(
    sim, account, client, tickers
) -> None:
    """After a reconnect the exchange answers the restoring subscribe with a retryable error (here "Channel
    error"; a reply that never comes is the same). The connection is up, so before this fix the fill channel
    stayed unsubscribed for good: no fill ever arrived again, and nothing said so. Now the stream starts over on
    a fresh connection, whose restore takes."""
    await quiesce(sim)
    async with make_stream(sim, account) as stream:
        private = await stream.subscribe(["fill", "user_orders"])
        sim.faults.fail_commands(1)
        try:
            assert sim.faults.drop_connections() == 1
            await next_matching(stream, lambda i: isinstance(i, StreamError))
            restored = await next_matching(stream, lambda i: isinstance(i, SubscriptionsRestored), timeout=10)
        finally:
            sim.faults.reset()
        assert restored.count == 1 and private.active.is_set()
        assert stream.health().reconnect_count == 2
        book = await client.get_orderbook(tickers[0])
        price = D(1) - book.no[-1][0]
        created = await client.create_order(tickers[0], "bid", 1, price, time_in_force="immediate_or_cancel")
        fill = await next_matching(stream, lambda i: isinstance(i, Fill))
        assert fill.order_id == created.order_id


async def test_private_channels_deliver_typed_fills_and_orders(sim, account, client, tickers) -> None:
    await quiesce(sim)
    async with make_stream(sim, account) as stream:
        await stream.subscribe(["fill", "user_orders"])
        await stream.subscribe("trade", tickers[:1])
        book = await client.get_orderbook(tickers[0])
        price = D(1) - book.no[-1][0]
        created = await client.create_order(tickers[0], "bid", 1, price, time_in_force="immediate_or_cancel")
        assert created.fill_count == D("1.00")
        fill = await next_matching(stream, lambda i: isinstance(i, Fill))
        assert fill.order_id == created.order_id and fill.count == D("1.00") and fill.yes_price == price
        order = await next_matching(
            stream, lambda i: isinstance(i, UserOrder) and i.order_id == created.order_id
        )
        assert order.client_order_id == created.client_order_id
        trade = await next_matching(stream, lambda i: isinstance(i, Trade))
        assert trade.market_ticker == tickers[0]


async def test_two_handles_on_one_channel_share_a_sid_and_unsubscribe_independently(
    sim, account, tickers
) -> None:
    async with make_stream(sim, account) as stream:
        first = await stream.subscribe("orderbook_delta", tickers[:1])
        second = await stream.subscribe("orderbook_delta", tickers[1:2])
        # Kalshi merges a second subscribe to the same channel into the existing subscription
        assert first.sids == second.sids
        await wait_until(lambda: all(t in stream.books and not stream.books[t].stale for t in tickers[:2]))
        await stream.unsubscribe(first)
        assert tickers[0] not in stream.books and tickers[1] in stream.books
        listed = await stream.list_subscriptions()
        assert [s.sid for s in listed] == [second.sids["orderbook_delta"]]
        sim.faults.drop_connections()
        await wait_until(lambda: stream.reconnect_count == 1 and second.active.is_set())
        await wait_until(lambda: not stream.books[tickers[1]].stale)
        assert tickers[0] not in stream.books


async def test_no_key_material_or_signature_reaches_the_logs(sim, account, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _, pem = account
    async with make_stream(sim, account) as stream:
        await stream.subscribe("ticker", send_initial_snapshot=True)
        await next_matching(stream, lambda i: i.type == "ticker")
        sim.faults.drop_connections()
        await wait_until(lambda: stream.reconnect_count == 1)
        text = caplog.text + repr(stream) + str(stream.health())
    assert "KALSHI-ACCESS-SIGNATURE" not in text
    assert not any(line in text for line in pem.decode().splitlines() if "-----" not in line)


async def test_a_rejected_handshake_is_reported_as_unauthorized_and_retried(sim) -> None:
    key_id, _ = sim.add_account(D("1"))
    _, other_pem = sim.add_account(D("1"))
    stream = make_stream(sim, (key_id, other_pem))
    await stream.start(wait=False)
    try:
        event = await next_matching(stream, lambda i: isinstance(i, StreamError), timeout=5)
        assert isinstance(event.error, Unauthorized)
        await next_matching(stream, lambda i: isinstance(i, StreamError), timeout=5)  # it keeps trying
        assert not stream.connected
    finally:
        await stream.close()


async def test_a_connection_that_keeps_failing_is_tried_again_forever() -> None:
    """Over a thousand failed or short-lived connections in a row (no healthy one in between) made the backoff's
    2**attempt overflow a float: the OverflowError ended the stream's loop and it never connected again (the
    10,000-trial fault run: the private feed went deaf after ~1,000 dropped connections)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections to it are refused at once
    stream = KalshiStream(f"ws://127.0.0.1:{port}/trade-api/ws/v2", backoff_initial=1e-6, backoff_cap=1e-6)
    attempts = 0
    real_connect_once = stream._connect_once

    async def counted() -> str:
        nonlocal attempts
        attempts += 1
        return await real_connect_once()

    stream._connect_once = counted  # type: ignore[method-assign]
    await stream.start(wait=False)
    try:
        task = stream._task
        assert task is not None
        await wait_until(lambda: attempts >= 1100 or task.done(), timeout=30)
        assert not task.done(), task.exception()
        assert attempts >= 1100
    finally:
        await stream.close()
