"""The feed: the deployment's single upstream Kalshi WebSocket, shared by every browser.

    python manage.py kalshi_feed

Run two for high availability: one holds a Redis lease and works, the other waits and takes over
within a few seconds when the first dies. The leader

- subscribes upstream only to markets some browser is looking at (the union of every server
  process's `kw:watch:<id>` set, which expire unless refreshed), adding and removing markets with
  `update_subscription` — never a reconnect, never a socket per browser;
- maintains each watched book from snapshot + deltas (refusing deltas across a gap; the client
  requests a fresh snapshot);
- renders each changed market's fragments once and publishes them once on `kw:md:<ticker>`,
  at most every FLUSH_INTERVAL (so a burst of deltas becomes one update), and stores the latest
  state for new page loads;
- publishes its health on `kw:feed:health`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from kalshiweb.kalshi.stream import (
    Connected,
    Disconnected,
    KalshiStream,
    MarketsRejected,
    SequenceGap,
    StreamError,
    Subscription,
)
from markets.feed_state import FeedState
from markets.hub import WATCH_PREFIX
from markets.leader import Lease
from markets.live import HEALTH_KEY
from markets.publish import publish

log = logging.getLogger(__name__)

CHANNELS = ("orderbook_delta", "ticker", "trade")
# A market the exchange refused (no such market) is not asked for again for this long, whoever watches it.
REJECT_RETRY_SECONDS = 600.0
# Newly watched markets waiting for their trade history (one REST call each, one at a time, through the
# account's token bucket); beyond this many the rest start with an empty tape and fill from the stream.
SEED_QUEUE_SIZE = 50


class Feed:
    def __init__(
        self,
        *,
        redis_url: str,
        ws_url: str,
        key_id: str | None,
        private_key: str | bytes | Path | None,
        render: Callable[[str, dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]], dict[str, Any]],
        on_lead: Callable[[], None] | None = None,
        seed_trades: Callable[[str], Awaitable[list[dict[str, Any]]]] | None = None,
        leader_tasks: list[Callable[[], Coroutine[Any, Any, None]]] | None = None,
        flush_interval: float = 0.1,
        interest_interval: float = 1.0,
        republish_after: float = 10.0,
        lease_ttl_ms: int = 5000,
        silence_timeout: float | None = 30.0,
        backoff_cap: float = 30.0,
        seed_queue_size: int = SEED_QUEUE_SIZE,
    ) -> None:
        self.redis_url = redis_url
        self.ws_url = ws_url
        self.key_id = key_id
        self.private_key = private_key
        self.render = render
        self.on_lead = on_lead
        self.seed_trades = seed_trades
        self.leader_tasks = leader_tasks or []
        self.flush_interval = flush_interval
        self.interest_interval = interest_interval
        self.republish_after = republish_after
        self.lease_ttl_ms = lease_ttl_ms
        self.silence_timeout = silence_timeout
        self.backoff_cap = backoff_cap
        self.seed_queue_size = seed_queue_size
        self.seed_queue: asyncio.Queue[str] | None = None
        self.seeds_dropped = 0
        self.rejected: dict[str, float] = {}  # markets the exchange refused -> when (time.monotonic())
        self.upstream_errors = 0
        self.name = f"feed-{os.getpid()}"
        self.state = FeedState()
        self.stream: KalshiStream | None = None
        self.subscription: Subscription | None = None
        self.watched: set[str] = set()
        self.is_leader = False
        self.published: dict[str, float] = {}
        self.publish_count = 0
        self.said_connected = False  # what the health key last said (written by this process)
        # False simulates a crash in tests: the lease is left to expire instead of being released.
        self.release_lease_on_exit = True
        self._sync_redis = redis.Redis.from_url(redis_url)

    # --- leadership -------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Forever: wait for the lease, lead while it is held, go back to waiting if it is lost."""
        client = aioredis.Redis.from_url(self.redis_url)
        lease = Lease(client, ttl_ms=self.lease_ttl_ms)
        try:
            while True:
                try:
                    if await lease.acquire():
                        log.info("%s: acquired the feed lease; leading", self.name)
                        await self.lead(lease)
                        log.warning("%s: lost the feed lease; standing by", self.name)
                except (aioredis.RedisError, OSError) as exc:
                    log.warning("%s: Redis unavailable (%s); retrying", self.name, exc)
                await asyncio.sleep(min(1.0, self.lease_ttl_ms / 5000))
        finally:
            if self.release_lease_on_exit:
                with contextlib.suppress(Exception):
                    await lease.release()
            await client.aclose()

    async def lead(self, lease: Lease) -> None:
        self.is_leader = True
        self.state = FeedState()
        self.watched = set()
        self.subscription = None
        self.said_connected = False
        self.seed_queue = asyncio.Queue(maxsize=self.seed_queue_size)
        self.stream = KalshiStream(
            self.ws_url,
            key_id=self.key_id,
            private_key=self.private_key,
            maintain_books=False,
            silence_timeout=self.silence_timeout,
            backoff_cap=self.backoff_cap,
        )
        await self.stream.start(wait=False)
        if self.on_lead is not None:
            asyncio.get_running_loop().run_in_executor(None, self.on_lead)
        tasks = [
            asyncio.create_task(self._consume(), name="feed-consume"),
            asyncio.create_task(self._interest_loop(), name="feed-interest"),
            asyncio.create_task(self._flush_loop(), name="feed-flush"),
            asyncio.create_task(self._health_loop(), name="feed-health"),
            *([asyncio.create_task(self._seed_loop(), name="feed-seed")] if self.seed_trades else []),
            *(
                asyncio.create_task(make(), name=f"feed-extra-{i}")
                for i, make in enumerate(self.leader_tasks)
            ),
        ]
        try:
            while True:
                await asyncio.sleep(self.lease_ttl_ms / 3000)
                if not await lease.renew():
                    return
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        log.error(
                            "%s: %s died: %r; restarting leadership",
                            self.name,
                            task.get_name(),
                            task.exception(),
                        )
                        return
        finally:
            self.is_leader = False
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.stream.close()
            self.stream = None

    # --- interest ----------------------------------------------------------------------------------------

    async def desired_markets(self) -> set[str]:
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            keys = [key async for key in client.scan_iter(match=f"{WATCH_PREFIX}*", count=500)]
            if not keys:
                return set()
            members = await client.sunion(keys)
            return {m.decode() if isinstance(m, bytes) else m for m in members}
        finally:
            await client.aclose()

    async def _interest_loop(self) -> None:
        while True:
            try:
                await self.reconcile_interest(await self.desired_markets())
            except (aioredis.RedisError, OSError) as exc:
                log.warning("%s: cannot read market interest: %s", self.name, exc)
            except Exception:
                self.upstream_errors += 1
                log.exception("%s: updating the upstream subscription failed; will retry", self.name)
            await asyncio.sleep(self.interest_interval)

    def _refused(self) -> set[str]:
        now = time.monotonic()
        for ticker in [t for t, at in self.rejected.items() if now - at > REJECT_RETRY_SECONDS]:
            del self.rejected[ticker]
        return set(self.rejected)

    async def reconcile_interest(self, desired: set[str]) -> None:
        """Bring the upstream subscription to the markets browsers watch, less the ones the exchange refused.
        A market joins `watched` only once the exchange accepted it."""
        assert self.stream is not None
        desired = desired - self._refused()
        add = sorted(desired - self.watched)
        remove = sorted(self.watched - desired)
        if not add and not remove:
            return
        for ticker in add:
            self.state.watch(ticker)  # before subscribing: the snapshots follow the exchange's answer at once
        refused: list[str] = []
        if self.subscription is None:
            if add:
                self.subscription = await self.stream.subscribe(list(CHANNELS), add)
                refused = sorted(self.subscription.rejected.intersection(add))
        elif not desired:
            await self.stream.unsubscribe(self.subscription)
            self.subscription = None
        else:
            if add:
                refused = await self.stream.add_markets(self.subscription, add)
            if remove:
                await self.stream.delete_markets(self.subscription, remove)
        self._note_refused(refused)
        for ticker in remove:
            self.state.forget(ticker)
            self.published.pop(ticker, None)
        accepted = [t for t in add if t not in refused]
        self.watched = set(desired) - set(refused)
        for ticker in accepted:
            self._queue_seed(ticker)
        log.info(
            "%s: watching %d markets (+%d −%d)", self.name, len(self.watched), len(accepted), len(remove)
        )

    def _note_refused(self, tickers: list[str] | tuple[str, ...]) -> None:
        if not tickers:
            return
        now = time.monotonic()
        for ticker in tickers:
            self.rejected[ticker] = now
            self.watched.discard(ticker)
            self.state.forget(ticker)
            self.published.pop(ticker, None)
        log.warning(
            "%s: the exchange refused %d market(s) (%s): not watched for %.0f s",
            self.name,
            len(tickers),
            ", ".join(sorted(tickers)[:5]),
            REJECT_RETRY_SECONDS,
        )

    def _queue_seed(self, ticker: str) -> None:
        if self.seed_trades is None or self.seed_queue is None:
            return
        try:
            self.seed_queue.put_nowait(ticker)
        except asyncio.QueueFull:
            self.seeds_dropped += 1  # its tape fills from the live stream instead

    async def _seed_loop(self) -> None:
        """One REST call at a time for the newly watched markets' recent trades (bounded queue)."""
        assert self.seed_queue is not None
        while True:
            ticker = await self.seed_queue.get()
            if ticker in self.watched and ticker in self.state.markets:
                await self._seed(ticker)

    async def _seed(self, ticker: str) -> None:
        """Fill a newly watched market's tape with its recent trades from REST (the stream only has new ones)."""
        assert self.seed_trades is not None
        try:
            trades = await self.seed_trades(ticker)
        except Exception as exc:
            log.warning("%s: no trade history for %s: %s", self.name, ticker, exc)
            return
        live = self.state.markets.get(ticker)
        if live is None:
            return
        room = (live.trades.maxlen or 0) - len(live.trades)
        live.trades.extend(trades[: max(room, 0)])
        self.state.dirty.add(ticker)

    # --- upstream messages -------------------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self.stream is not None
        async for item in self.stream:
            try:
                self.handle(item)
            except Exception:  # one bad message must never stop the feed
                log.exception("%s: could not handle %r", self.name, type(item).__name__)

    def handle(self, item: object) -> None:
        if isinstance(item, SequenceGap):
            self.state.mark_stale(list(item.market_tickers) or None, "sequence gap: resyncing")
        elif isinstance(item, Disconnected):
            self.state.mark_stale(None, "reconnecting")
        elif isinstance(item, MarketsRejected):
            self._note_refused(item.market_tickers)
        elif isinstance(item, StreamError):
            self.upstream_errors += 1
            log.warning("%s: upstream error: %s", self.name, item.error)
        elif isinstance(item, Connected):
            log.info("%s: upstream connected (reconnects: %d)", self.name, item.reconnect_count)
        else:
            self.state.apply(item)

    # --- publishing ---------------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            while True:
                await asyncio.sleep(self.flush_interval)
                tickers = self.due_for_publish()
                if not tickers:
                    continue
                if not self.said_connected and (health := self.health())["connected"]:
                    # Fresh books enable the pages' tickets, and the ticket's own check reads the health key: it
                    # must say "connected" before they arrive, not at the next health write a second later.
                    await self._write_health(client, health)
                try:
                    await asyncio.to_thread(self.flush, tickers)
                except Exception:
                    log.exception("%s: publishing failed; will retry", self.name)
                    self.state.dirty.update(tickers)
        finally:
            await client.aclose()

    def due_for_publish(self) -> list[str]:
        tickers = set(self.state.take_dirty())
        if self.stream is not None and self.stream.connected:
            # Quiet markets are republished now and then so pages can tell "quiet" from "stale".
            now = time.time()
            tickers.update(
                t
                for t, live in self.state.markets.items()
                if not live.book.stale and now - self.published.get(t, 0) > self.republish_after
            )
        return sorted(tickers)

    def flush(self, tickers: list[str]) -> None:
        for ticker in tickers:
            live = self.state.markets.get(ticker)
            if live is None:
                continue
            if live.updated == 0:
                continue  # nothing known yet
            quote = live.quote()
            book = live.book_view()
            if self.stream is not None and self.stream.connected and not live.book.stale:
                # Connected and in sequence: what we hold is the exchange's state as of now.
                quote["ts"] = time.time()
                if book is not None:
                    book["ts"] = quote["ts"]
            trades = list(live.trades)
            update = self.render(ticker, quote, book, trades)
            publish(self._sync_redis, ticker, update, quote=quote, book=book, trades=trades)
            self.published[ticker] = time.time()
            self.publish_count += 1

    # --- health ------------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        stream_health = self.stream.health() if self.stream is not None else None
        ages = [
            a for a in (stream_health.last_message_age.values() if stream_health else []) if a is not None
        ]
        connected = bool(stream_health and stream_health.connected)
        restored = self.subscription is None or self.subscription.active.is_set()
        problem = ""
        if not connected:
            problem = "not connected to the exchange"
        elif not restored:
            problem = "the upstream subscription is not (yet) restored"
        return {
            "name": self.name,
            "leader": self.is_leader,
            # Connected means data flows: the socket is up and the markets' subscription is in place.
            "connected": connected and restored,
            "problem": problem,
            "rejected": len(self.rejected),
            "seeds_dropped": self.seeds_dropped,
            "last_message_age": min(ages) if ages else None,
            "reconnects": stream_health.reconnect_count if stream_health else 0,
            "gaps": stream_health.gap_count if stream_health else 0,
            "messages_per_second": round(stream_health.messages_per_second, 1) if stream_health else 0.0,
            "stale_books": sum(1 for live in self.state.markets.values() if live.book.stale),
            "watched": len(self.watched),
            "published": self.publish_count,
            "ts": time.time(),
        }

    async def _write_health(self, client: aioredis.Redis, health: dict[str, Any] | None = None) -> None:
        health = health or self.health()
        with contextlib.suppress(aioredis.RedisError, OSError):
            await client.set(HEALTH_KEY, json.dumps(health), ex=10)
            self.said_connected = health["connected"]

    async def _health_loop(self) -> None:
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            while True:
                await self._write_health(client)
                await asyncio.sleep(1.0)
        finally:
            await client.aclose()
