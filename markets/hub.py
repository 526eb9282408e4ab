"""One Redis subscription per server process, fanned out to that process's browser sockets.

The feed publishes each market update once (already rendered, and signed: see sign_frame) on `kw:md:<ticker>`. Every server
process runs one Hub per event loop: it subscribes to the tickers its own browsers watch, parses each
update once and hands it to the local consumers, which keep a latest-wins buffer per market (see
consumers.py) — no channel-layer message per browser, no growing queue for a slow browser.

Interest is registered for the feed in `kw:watch:<process id>` (a Redis set of tickers) refreshed
every HEARTBEAT seconds with a TTL, so a crashed server cannot leak upstream subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
import weakref
from collections import defaultdict
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from django.conf import settings

from markets import framesign

log = logging.getLogger(__name__)

REFUSE_KEY = "kw:ws:refuse_until"
# daphne only lets an application send 1000 or 3000-4999, so "service restart" / "try again later"
# are 4012 / 4013 here; static/js/live.js reconnects on them with backoff (htmx's ws extension
# itself only reconnects after 1006/1011/1012/1013).
SERVICE_RESTART = 4012
TRY_AGAIN_LATER = 4013
WATCH_PREFIX = "kw:watch:"
HEARTBEAT_SECONDS = 10
WATCH_TTL_SECONDS = 30


class Listener(Protocol):
    def offer(self, ticker: str, update: dict[str, Any]) -> None: ...

    def close_soon(self, code: int) -> None: ...


@lru_cache(maxsize=8)
def _pubsub_prefix(redis_url: str) -> str:
    """Pub/sub channels are server-wide, not per Redis db (keys are): the db number goes into every channel
    name, so deployments (or test workers) that share a Redis server on different dbs never hear each other."""
    path = urlsplit(redis_url).path.strip("/")
    return f"kw:{path or '0'}:"


def channel_prefix(redis_url: str | None = None) -> str:
    """The prefix of every market's channel in this deployment (of the Redis at `redis_url`, else REDIS_URL)."""
    return f"{_pubsub_prefix(redis_url or settings.REDIS_URL)}md:"


def market_channel(ticker: str, redis_url: str | None = None) -> str:
    return f"{channel_prefix(redis_url)}{ticker}"


def control_channel(redis_url: str | None = None) -> str:
    """Operator commands for every server process of this deployment (manage.py close_sockets)."""
    return f"{_pubsub_prefix(redis_url or settings.REDIS_URL)}control"


# --- signed frames (see markets.framesign) ---------------------------------------------------------------
@lru_cache(maxsize=4)
def _frame_key(secret: str) -> bytes:
    return framesign.frame_key(secret)


def sign_frame(ticker: str, payload: str) -> str:
    """`payload` (a JSON update) as the feed publishes it: signed for this market."""
    return framesign.sign(_frame_key(settings.SECRET_KEY), ticker, payload)


def open_frame(ticker: str, data: bytes | str) -> dict[str, Any] | None:
    """The update in a frame read from Redis for `ticker`, or None (counted, logged) when the feed did not
    sign it for this market; None also when it is not a JSON object."""
    raw = data.encode() if isinstance(data, str) else data
    body = framesign.verify(_frame_key(settings.SECRET_KEY), ticker, raw)
    if body is None:
        _forged.note(ticker)
        return None
    try:
        update = json.loads(body)
    except ValueError:
        log.warning("dropping malformed market update for %s", ticker)
        return None
    return update if isinstance(update, dict) else None


class _DropCounter:
    """Counts dropped frames and logs them at most once a LOG_EVERY seconds (a flood of forgeries must not
    flood the log)."""

    LOG_EVERY = 60.0

    def __init__(self) -> None:
        self.total = 0
        self._unlogged = 0
        self._logged_at = float("-inf")

    def note(self, ticker: str) -> None:
        self.total += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= self.LOG_EVERY:
            log.warning(
                "dropped %d unsigned or forged market frame(s) from Redis (latest for %s; %d since start)",
                self._unlogged,
                ticker,
                self.total,
            )
            self._unlogged = 0
            self._logged_at = now


_forged = _DropCounter()


def forged_frames_dropped() -> int:
    return _forged.total


class Hub:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        # the channel names, worked out once: the read loop compares every message's channel with them
        self._prefix = channel_prefix(redis_url)
        self._control = control_channel(redis_url)
        self.process_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.listeners: dict[str, set[Listener]] = defaultdict(set)
        self.idle: weakref.WeakSet[Any] = weakref.WeakSet()  # connected sockets watching nothing yet
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self.messages_received = 0

    @property
    def watch_key(self) -> str:
        return f"{WATCH_PREFIX}{self.process_id}"

    def redis(self) -> aioredis.Redis:
        """A client on this loop for the consumers' small reads (shares the hub's connection pool)."""
        if self._redis is None:
            self._redis = aioredis.Redis.from_url(self.redis_url)
        return self._redis

    async def _ensure_started(self) -> None:
        if self._pubsub is not None:
            return
        self._pubsub = self.redis().pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._control)
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="hub-read"),
            asyncio.create_task(self._heartbeat_loop(), name="hub-heartbeat"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.delete(self.watch_key)
                if self._pubsub is not None:
                    await self._pubsub.aclose()
                await self._redis.aclose()
        self._redis = None
        self._pubsub = None

    async def attach(self, listener: Listener) -> None:
        async with self._lock:
            await self._ensure_started()
            self.idle.add(listener)

    def detach(self, listener: Listener) -> None:
        self.idle.discard(listener)

    async def watch(self, listener: Listener, tickers: list[str]) -> None:
        async with self._lock:
            await self._ensure_started()
            new = [t for t in tickers if not self.listeners.get(t)]
            for ticker in tickers:
                self.listeners[ticker].add(listener)
            if new:
                await self._pubsub.subscribe(*(self._prefix + t for t in new))
                await self._publish_interest()

    async def unwatch(self, listener: Listener, tickers: list[str]) -> None:
        async with self._lock:
            gone = []
            for ticker in tickers:
                group = self.listeners.get(ticker)
                if group is None:
                    continue
                group.discard(listener)
                if not group:
                    del self.listeners[ticker]
                    gone.append(ticker)
            if gone and self._pubsub is not None:
                await self._pubsub.unsubscribe(*(self._prefix + t for t in gone))
                await self._publish_interest()

    async def _publish_interest(self) -> None:
        assert self._redis is not None
        tickers = list(self.listeners)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self.watch_key)
                if tickers:
                    pipe.sadd(self.watch_key, *tickers)
                    pipe.expire(self.watch_key, WATCH_TTL_SECONDS)
                await pipe.execute()
        except aioredis.RedisError as exc:
            log.warning("could not register market interest: %s", exc)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            async with self._lock:
                await self._publish_interest()

    async def _read_loop(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except (aioredis.RedisError, OSError) as exc:
                log.warning("hub lost its Redis subscription (%s); resubscribing", exc)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    channels = [self._prefix + t for t in self.listeners]
                    if channels:
                        await self._pubsub.subscribe(*channels)
                continue
            if message is None:
                continue
            self.dispatch(message.get("channel"), message.get("data"))

    def dispatch(self, channel: bytes | str | None, data: bytes | str | None) -> None:
        if channel is None or data is None:
            return
        name = channel.decode() if isinstance(channel, bytes) else channel
        if name == self._control:
            self.control(data)
            return
        ticker = name.removeprefix(self._prefix)
        update = open_frame(ticker, data)
        if update is None:
            return
        self.messages_received += 1
        for listener in list(self.listeners.get(ticker, ())):
            listener.offer(ticker, update)

    def control(self, data: bytes | str) -> None:
        """Operator commands: {"action": "close_all"} closes every local browser socket with code 4012."""
        try:
            command = json.loads(data)
        except ValueError:
            return
        if not isinstance(command, dict) or command.get("action") != "close_all":
            return
        for listener in {item for group in self.listeners.values() for item in group} | set(self.idle):
            listener.close_soon(SERVICE_RESTART)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def current_hub() -> Hub | None:
    return _hubs.get(asyncio.get_running_loop())


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process under daphne)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(settings.REDIS_URL)
    return hub
