from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest
import redis.asyncio as aioredis

from kalshiweb.kalshi.models import AccountLimits
from kalshiweb.kalshi.ratelimit import TIERS, InMemoryRateLimiter, RateLimitConfig, RedisRateLimiter

from .conftest import load_sample

# The machine's Redis (db 15) when it answers, else the project's REDIS_URL (CI's, or the embedded one the
# test session starts). Only keys under a random prefix are written, and they are deleted afterwards.
REDIS_URLS = [
    u
    for u in (
        os.environ.get("KALSHI_TEST_REDIS_URL"),
        "redis://127.0.0.1:6379/15",
        os.environ.get("REDIS_URL"),
    )
    if u
]


def test_the_tier_table_matches_the_docs() -> None:
    basic = RateLimitConfig.for_tier("Basic")
    assert (basic.read_rate, basic.read_capacity, basic.write_rate, basic.write_capacity) == (
        200,
        400,
        100,
        100,
    )
    premier = TIERS["premier"]
    limits = AccountLimits.from_dict(load_sample("rest_get_account_limits_response.json"))
    assert RateLimitConfig.from_account_limits(limits) == premier
    with pytest.raises(ValueError):
        RateLimitConfig.for_tier("platinum")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_in_memory_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(RateLimitConfig(200, 400, 100, 100), clock=clock)
    assert all(limiter.try_take("write", 10) == 0 for _ in range(10))
    assert limiter.try_take("write", 10) == pytest.approx(0.1)
    clock.now += 0.05
    assert limiter.try_take("write", 10) == pytest.approx(0.05)
    clock.now += 0.05
    assert limiter.try_take("write", 10) == 0
    # the read bucket is independent
    assert limiter.try_take("read", 10) == 0


def test_a_cost_larger_than_the_bucket_is_refused() -> None:
    limiter = InMemoryRateLimiter(RateLimitConfig(200, 400, 100, 100))
    with pytest.raises(ValueError, match="split the batch"):
        asyncio.run(limiter.acquire("write", 250))


async def test_in_memory_acquire_waits_for_tokens() -> None:
    limiter = InMemoryRateLimiter(RateLimitConfig(100, 10, 100, 10))
    start = time.monotonic()
    for _ in range(4):
        await limiter.acquire("read", 10)
    assert time.monotonic() - start >= 0.25


@pytest.fixture
async def redis_client():
    for url in REDIS_URLS:
        client = aioredis.from_url(url)
        try:
            await client.ping()
            break
        except Exception:
            await client.aclose()
    else:  # pragma: no cover - depends on the machine
        pytest.skip(f"no Redis answers at any of {REDIS_URLS}")
    prefix = f"test-kalshi-rl-{uuid.uuid4().hex}"
    yield client, prefix
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_redis_limiters_share_one_budget(redis_client) -> None:
    client, prefix = redis_client
    config = RateLimitConfig(read_rate=100, read_capacity=100, write_rate=100, write_capacity=100)
    a = RedisRateLimiter(client, "acct-1", config, prefix=prefix)
    b = RedisRateLimiter(client, "acct-1", config, prefix=prefix)
    other = RedisRateLimiter(client, "acct-2", config, prefix=prefix)
    granted: list[float] = []

    async def worker(limiter: RedisRateLimiter) -> None:
        while time.monotonic() < deadline:
            await limiter.acquire("write", 10)
            granted.append(time.monotonic())

    start = time.monotonic()
    deadline = start + 1.0
    await asyncio.gather(*(worker(x) for x in (a, b, a, b)))
    elapsed = granted[-1] - start
    # capacity 100 + 100 tokens/s → at most 10 + 10·elapsed requests of cost 10, shared by both instances.
    budget = 10 + 10 * elapsed
    assert len(granted) <= budget + 1, (len(granted), budget)
    assert len(granted) >= 10 + 10 * 0.6
    # a different account has its own bucket
    assert await other._take("write", 10) == 0


async def test_redis_bucket_reports_wait_time(redis_client) -> None:
    client, prefix = redis_client
    limiter = RedisRateLimiter(client, "acct", RateLimitConfig(10, 10, 10, 10), prefix=prefix)
    assert await limiter._take("read", 10) == 0
    wait = await limiter._take("read", 10)
    assert 0.8 < wait <= 1.0
    assert repr(limiter) == f"RedisRateLimiter(account='acct', prefix='{prefix}')"


async def test_two_clients_sharing_a_redis_bucket_stay_under_the_account_budget(redis_client) -> None:
    import httpx

    from kalshiweb.kalshi import KalshiClient

    client, prefix = redis_client
    config = RateLimitConfig(read_rate=50, read_capacity=50, write_rate=50, write_capacity=50)
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return httpx.Response(200, json={"exchange_active": True, "trading_active": True})

    def make() -> KalshiClient:
        return KalshiClient(
            "http://exchange.test/trade-api/v2",
            limiter=RedisRateLimiter(client, "acct-shared", config, prefix=prefix),
            transport=httpx.MockTransport(handler),
        )

    a, b = make(), make()
    start = time.monotonic()

    async def hammer(c: KalshiClient) -> None:
        while time.monotonic() - start < 1.0:
            await c.get_exchange_status()

    await asyncio.gather(hammer(a), hammer(b), hammer(a), hammer(b))
    await a.aclose()
    await b.aclose()
    elapsed = sent[-1] - start
    # 50-token bucket + 50 tokens/s at 10 tokens a request: at most 5 + 5·elapsed requests in total
    assert len(sent) <= 5 + 5 * elapsed + 1, (len(sent), elapsed)
    assert len(sent) >= 5
