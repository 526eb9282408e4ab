"""One synchronous Kalshi client per account per worker process, sharing the account's Redis token bucket."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import msgspec
import redis.asyncio as aioredis
from django.conf import settings

from kalshiweb.kalshi.ratelimit import RateLimitConfig, RedisRateLimiter
from kalshiweb.kalshi.sync import KalshiSyncClient
from kalshiweb.kalshi.types.groups import CostTable, EndpointCosts
from markets import live
from trading.models import KalshiAccount

log = logging.getLogger(__name__)
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
        client.client.cost_table = endpoint_costs(rest_base, client)
    return client


COSTS_TTL = 3600  # seconds the exchange's endpoint costs are kept in Redis


def endpoint_costs(rest_base: str, client: KalshiSyncClient) -> CostTable | None:
    """The exchange's per-endpoint token costs (`GET /account/endpoint_costs`), shared through Redis for an hour,
    so every process charges the account's bucket what the exchange will. None (the documented defaults) when
    they cannot be had; a later client asks again."""
    key = f"kw:endpoint_costs:{rest_base}"
    try:
        raw = live.client().get(key)
        if raw:
            return EndpointCosts.from_dict(json.loads(raw)).table()
        costs = client.get_endpoint_costs()
        live.client().set(key, msgspec.json.encode(costs), ex=COSTS_TTL)
        return costs.table()
    except Exception as exc:  # costs are an optimisation of the pacing; never a reason to fail a request
        log.warning("endpoint costs of %s not loaded (%s): default costs apply", rest_base, exc)
        return None


def forget_clients() -> None:
    for client in (getattr(_local, "clients", None) or {}).values():
        try:
            client.close()
        except Exception:  # closing is best effort
            pass
    _local.clients = {}
