"""One synchronous Kalshi client per account per worker process, sharing the account's Redis token bucket."""

from __future__ import annotations

import functools
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


# Issue #15, subaccounts: the client methods that act on one subaccount (Kalshi's `subaccount` query/field).
SUBACCOUNT_SCOPED = frozenset(
    {
        "get_balance",
        "get_positions",
        "get_fills",
        "iter_fills",
        "get_settlements",
        "iter_settlements",
        "get_orders",
        "iter_orders",
        "cancel_order",
        "amend_order",
        "decrease_order",
        "cancel_all_orders",
        "batch_cancel_orders",
        "create_rfq",
    }
)


class SubaccountClient:
    """An account's client that names the account's subaccount on every call that acts on one, so a
    subaccount's orders go to it and its reads (balance, positions, fills, settlements) are its own."""

    def __init__(self, client: Any, subaccount: int) -> None:
        self._client = client
        self.subaccount = subaccount

    def submit_order(self, request: Any, **kwargs: Any) -> Any:
        return self._client.submit_order(
            msgspec.structs.replace(request, subaccount=self.subaccount), **kwargs
        )

    def batch_create_orders(self, orders: Any, **kwargs: Any) -> Any:
        scoped = [msgspec.structs.replace(o, subaccount=self.subaccount) for o in orders]
        return self._client.batch_create_orders(scoped, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in SUBACCOUNT_SCOPED:
            return functools.partial(attr, subaccount=self.subaccount)
        return attr


def scoped(client: Any, account: KalshiAccount) -> Any:
    """`client` (made with the account's key) scoped to the account's subaccount, 0 for a primary account: Kalshi
    lists the fills, orders and settlements of *every* subaccount when none is named, and a primary account's
    row must not take in its subaccounts' (they are theirs)."""
    return SubaccountClient(client, account.subaccount)


def client_for(account: KalshiAccount, **overrides: Any) -> Any:
    """A cached client for this account in this thread (its connection pool and event loop are reused); for a
    subaccount, scoped to it (`SubaccountClient`). Subaccounts share their parent's key, so its rate bucket."""
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
    return scoped(client, account)


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
