"""Discovery on the market pages (issue #15 item 8): the list's tag filter (Kalshi's series tags, as
/search/tags_by_categories groups them) and a sports market's live game state (score, period) from
/live_data, cached briefly in Redis so a page polling every few seconds costs the exchange one call per
event per CACHE_SECONDS whatever the number of viewers."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.db.models import QuerySet

from kalshiweb.exchange import default_credentials, make_client, run_blocking
from kalshiweb.kalshi import KalshiClient, KalshiError, NotFound
from kalshiweb.kalshi.ratelimit import RateLimitConfig, RedisRateLimiter
from markets import live
from markets.models import Series

log = logging.getLogger(__name__)


def deployment_client(**overrides: Any) -> KalshiClient:
    """The deployment key's client, taking from the key's shared Redis token bucket (as the feed's REST calls)."""
    key_id, _path = default_credentials()
    limiter = RedisRateLimiter(
        aioredis.Redis.from_url(settings.REDIS_URL),
        key_id or "public",
        RateLimitConfig.for_tier(settings.KALSHI_RATE_LIMIT_TIER),
    )
    return make_client(limiter=limiter, **overrides)


CACHE_SECONDS = 5
SCORE_KEYS = (("away_points", "home_points"), ("away_score", "home_score"))


def tags_by_category() -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for category, tags in Series.objects.values_list("category", "tags"):
        if tags:
            out.setdefault(category or "Other", set()).update(str(t) for t in tags)
    return {c: sorted(t) for c, t in sorted(out.items())}


SPORTS_KEY = "kw:sports"
SPORTS_TTL = 600


def sports() -> list[str]:
    """The sports Kalshi files markets under (/search/filters_by_sport, in its order), read at most every 10
    minutes; empty when the exchange cannot say (the filter is then not offered; never a reason for the page to
    fail)."""
    cached = live.cached_json(SPORTS_KEY)
    if isinstance(cached, list):
        return [str(s) for s in cached]

    async def fetch() -> list[str]:
        async with deployment_client(timeout=3.0, max_attempts=1) as client:
            answer = await client.get_filters_by_sport()
            return [s for s in answer.sport_ordering if s in answer.filters_by_sports] or sorted(
                answer.filters_by_sports
            )

    try:
        found = run_blocking(fetch)
    except Exception as exc:  # a page must render without it; not asked again for a minute
        log.info("sports filter unavailable: %s", exc)
        live.store_json(SPORTS_KEY, [], ttl=60)
        return []
    live.store_json(SPORTS_KEY, found, ttl=SPORTS_TTL)
    return found


def filter_by_tag[Q: QuerySet[Any]](markets: Q, tag: str) -> Q:
    """Markets of the series that carry `tag` (JSON containment differs by database: matched here)."""
    series = [ticker for ticker, tags in Series.objects.values_list("ticker", "tags") if tags and tag in tags]
    return markets.filter(series_id__in=series)


def live_game(event_ticker: str) -> dict[str, Any] | None:
    """The event's live data as the page shows it ({"type", "details", "score", "period"}), or None."""
    key = f"kw:livedata:{event_ticker}"
    cached = live.client().get(key)
    if cached is not None:
        return json.loads(cached) or None

    async def fetch() -> Any:
        async with deployment_client(timeout=3.0, max_attempts=1) as client:
            return await client.get_event_live_data(event_ticker)

    try:
        result = run_blocking(fetch)
        details = dict(result.details)
        data: dict[str, Any] = {"type": result.type, "details": details}
        for away, home in SCORE_KEYS:
            if away in details and home in details:
                data["score"] = f"{details[away]}–{details[home]}"
        if "period" in details:
            data["period"] = details["period"]
        if "clock" in details:
            data["clock"] = details["clock"]
    except NotFound:
        data = {}
    except KalshiError as exc:
        log.info("live data for %s unavailable: %s", event_ticker, exc)
        return None  # not cached: asked again on the next poll
    live.client().set(key, json.dumps(data), ex=CACHE_SECONDS)
    return data or None


# --- incentive programs: the feed leader refreshes the set of markets with an active program; pages read it --

INCENTIVES_KEY = "kw:incentives"
INCENTIVES_TTL = 300
INCENTIVES_INTERVAL = 60.0


def incentive_tickers() -> set[str]:
    """Markets with an active incentive program (empty when unknown: never a reason for a page to fail)."""
    try:
        return {
            t.decode() if isinstance(t, bytes) else str(t) for t in live.client().smembers(INCENTIVES_KEY)
        }
    except Exception:
        return set()


def store_incentives(tickers: set[str]) -> None:
    with live.client().pipeline() as pipe:
        pipe.delete(INCENTIVES_KEY)
        if tickers:
            pipe.sadd(INCENTIVES_KEY, *sorted(tickers))
            pipe.expire(INCENTIVES_KEY, INCENTIVES_TTL)
        pipe.execute()


async def fetch_incentives() -> set[str]:
    tickers: set[str] = set()
    async with deployment_client(timeout=10.0) as client:
        cursor: str | None = None
        for _ in range(50):  # at most 50 pages of 1000
            page = await client.get_incentive_programs(status="active", limit=1000, cursor=cursor)
            tickers.update(p.market_ticker for p in page.items)
            cursor = page.cursor
            if not cursor:
                break
    return tickers


async def refresh_incentives_forever() -> None:
    """The feed leader's task: one REST listing a minute, through the deployment key's token bucket."""
    import asyncio

    while True:
        try:
            tickers = await fetch_incentives()
            await asyncio.to_thread(store_incentives, tickers)
        except Exception as exc:  # the exchange may be away: keep the last set until it expires
            log.warning("incentive programs not refreshed: %s", exc)
        await asyncio.sleep(INCENTIVES_INTERVAL)
