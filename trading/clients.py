"""One synchronous Kalshi client per account per worker process, sharing the account's Redis token bucket."""

from __future__ import annotations

import threading
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from kalshiweb.kalshi.ratelimit import RateLimitConfig, RedisRateLimiter
from kalshiweb.kalshi.sync import KalshiSyncClient
from trading.models import KalshiAccount

_local = threading.local()


def rate_limit_config() -> RateLimitConfig:
    return RateLimitConfig.for_tier(settings.KALSHI_RATE_LIMIT_TIER)


def client_for(account: KalshiAccount, **overrides: Any) -> KalshiSyncClient:
    """A cached client for this account in this thread (its connection pool and event loop are reused)."""
    cache: dict[tuple[Any, ...], KalshiSyncClient] = getattr(_local, "clients", None) or {}
    _local.clients = cache
    rest_base, _ws = account.urls()
    key = (
        account.pk,
        account.api_key_id,
        rest_base,
        account.private_key_encrypted[:32],
        tuple(sorted(overrides.items())),
    )
    client = cache.get(key)
    if client is None:
        limiter = RedisRateLimiter(
            aioredis.Redis.from_url(settings.REDIS_URL), account.api_key_id, rate_limit_config()
        )
        kwargs: dict[str, Any] = {
            "signer": account.signer(),
            "limiter": limiter,
            "timeout": settings.KALSHI_ORDER_TIMEOUT_SECONDS,
        }
        kwargs.update(overrides)
        client = cache[key] = KalshiSyncClient(rest_base, **kwargs)
    return client


def forget_clients() -> None:
    for client in (getattr(_local, "clients", None) or {}).values():
        try:
            client.close()
        except Exception:  # closing is best effort
            pass
    _local.clients = {}
