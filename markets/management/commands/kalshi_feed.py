from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.core.management.base import BaseCommand

from kalshiweb.env import without_password
from kalshiweb.exchange import default_credentials, make_client
from kalshiweb.heap import freeze_startup_heap
from kalshiweb.kalshi.ratelimit import RateLimitConfig, RedisRateLimiter
from markets import extensions
from markets.feed import Feed
from markets.models import Market
from markets.publish import render_update
from markets.sync import sync_markets
from markets.tape import trade_row

log = logging.getLogger("markets.feed")


class MarketCache:
    """Market rows for rendering, re-read from the database at most every `ttl` seconds."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self.rows: dict[str, tuple[float, Market]] = {}

    def get(self, ticker: str) -> Market:
        cached = self.rows.get(ticker)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        market = Market.objects.filter(ticker=ticker).first() or Market(ticker=ticker, status="unknown")
        self.rows[ticker] = (time.monotonic(), market)
        return market


def initial_sync() -> None:
    """Fill the market tables when the feed starts leading (the exchange may still be starting)."""
    for attempt in range(30):
        try:
            log.info("initial market sync: %s", sync_markets())
            return
        except Exception as exc:  # the simulator may not be listening yet
            log.warning("initial market sync failed (%s); retrying", exc)
            time.sleep(min(2 + attempt, 10))


class Command(BaseCommand):
    help = "Run the upstream Kalshi feed (one per deployment; start two for failover)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-sync", action="store_true", help="do not sync markets when taking the lead")
        parser.add_argument("--lease-ttl-ms", type=int, default=5000)
        parser.add_argument("--silence-timeout", type=float, default=30.0)

    def handle(self, *args: Any, **options: Any) -> None:
        key_id, key_path = default_credentials()
        cache = MarketCache()

        def render(
            ticker: str, quote: dict[str, Any], book: dict[str, Any] | None, trades: list[dict[str, Any]]
        ) -> dict[str, Any]:
            return render_update(cache.get(ticker), quote, book, trades)

        seeding: dict[str, Any] = {}

        async def seed_trades(ticker: str) -> list[dict[str, Any]]:
            """A market's recent trades, only for markets we know, through the deployment key's shared
            Redis token bucket (the one its other REST calls take from)."""
            if not await asyncio.to_thread(Market.objects.filter(ticker=ticker).exists):
                return []
            client = seeding.get("client")
            if client is None:
                limiter = RedisRateLimiter(
                    aioredis.Redis.from_url(settings.REDIS_URL),
                    key_id or "public",
                    RateLimitConfig.for_tier(settings.KALSHI_RATE_LIMIT_TIER),
                )
                client = seeding["client"] = make_client(timeout=5.0, limiter=limiter, max_attempts=1)
            page = await client.get_trades(ticker=ticker, limit=30)
            return [
                trade_row(t.yes_price, t.count, t.taker_outcome_side, t.created_time, t.trade_id)
                for t in page.items
            ]

        feed = Feed(
            redis_url=settings.REDIS_URL,
            ws_url=settings.KALSHI_WS_URL,
            key_id=key_id,
            private_key=key_path,
            render=render,
            on_lead=None if options["no_sync"] else initial_sync,
            seed_trades=seed_trades,
            leader_tasks=extensions.feed_leader_tasks(),  # the accounts' private streams (trading)
            lease_ttl_ms=options["lease_ttl_ms"],
            silence_timeout=options["silence_timeout"],
        )
        redis_url = without_password(settings.REDIS_URL)
        self.stdout.write(f"kalshi_feed: upstream {settings.KALSHI_WS_URL}, Redis {redis_url}")
        freeze_startup_heap()  # what start-up loaded lives as long as the process (kalshiweb/heap.py)
        try:
            asyncio.run(feed.run())
        except KeyboardInterrupt:
            self.stdout.write("kalshi_feed: stopped")
