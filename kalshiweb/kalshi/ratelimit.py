"""Client-side token buckets mirroring Kalshi's (protocol §6.7), so we slow down before the exchange says 429.

Two buckets per account: ``read`` and ``write``. Each request costs tokens (default 10; batches per item).
``InMemoryRateLimiter`` serves one process; ``RedisRateLimiter`` keeps the buckets in Redis (one atomic Lua
script per acquisition, clocked by the Redis server) so every process using the same account key shares one
budget — N Celery workers together stay under the account's limit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .models import AccountLimits

Bucket = Literal["read", "write"]

DEFAULT_COST = 10
BATCH_CREATE_COST_PER_ITEM = 10
BATCH_CANCEL_COST_PER_ITEM = 2


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Tokens per second and bucket capacity for each bucket."""

    read_rate: float
    read_capacity: float
    write_rate: float
    write_capacity: float

    def rate(self, bucket: Bucket) -> float:
        return self.read_rate if bucket == "read" else self.write_rate

    def capacity(self, bucket: Bucket) -> float:
        return self.read_capacity if bucket == "read" else self.write_capacity

    @classmethod
    def for_tier(cls, tier: str) -> RateLimitConfig:
        try:
            return TIERS[tier.lower()]
        except KeyError:
            raise ValueError(f"unknown Kalshi usage tier {tier!r}; known: {', '.join(TIERS)}") from None

    @classmethod
    def from_account_limits(cls, limits: AccountLimits) -> RateLimitConfig:
        """From ``GET /account/limits`` (authoritative when available)."""
        return cls(
            read_rate=limits.read.refill_rate,
            read_capacity=limits.read.bucket_capacity,
            write_rate=limits.write.refill_rate,
            write_capacity=limits.write.bucket_capacity,
        )


def _tier(read: int, write: int, *, read_burst: float, write_burst: float) -> RateLimitConfig:
    return RateLimitConfig(read, read * read_burst, write, write * write_burst)


# §6.7: Basic & Advanced read buckets and all write buckets above Basic hold 2 s of budget; the others 1 s.
TIERS: dict[str, RateLimitConfig] = {
    "basic": _tier(200, 100, read_burst=2, write_burst=1),
    "advanced": _tier(300, 300, read_burst=2, write_burst=2),
    "expert": _tier(600, 600, read_burst=1, write_burst=2),
    "premier": _tier(1000, 1000, read_burst=1, write_burst=2),
    "paragon": _tier(2000, 2000, read_burst=1, write_burst=2),
    "prime": _tier(4000, 4000, read_burst=1, write_burst=2),
    "prestige": _tier(10000, 8000, read_burst=1, write_burst=2),
}


class RateLimiter(Protocol):
    async def acquire(self, bucket: Bucket, cost: int = DEFAULT_COST) -> float:
        """Wait until ``cost`` tokens are taken from ``bucket``; returns the seconds waited."""
        ...


class _BucketLimiter:
    max_wait_step = 1.0

    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config

    def _check_cost(self, bucket: Bucket, cost: int) -> None:
        if cost <= 0:
            raise ValueError("cost must be positive")
        if cost > self.config.capacity(bucket):
            raise ValueError(
                f"a request costing {cost} tokens can never fit the {bucket} bucket "
                f"(capacity {self.config.capacity(bucket):g}); split the batch"
            )

    async def _take(self, bucket: Bucket, cost: int) -> float:
        raise NotImplementedError

    async def acquire(self, bucket: Bucket, cost: int = DEFAULT_COST) -> float:
        self._check_cost(bucket, cost)
        waited = 0.0
        while True:
            wait = await self._take(bucket, cost)
            if wait <= 0:
                return waited
            wait = min(wait, self.max_wait_step)
            await asyncio.sleep(wait)
            waited += wait


class InMemoryRateLimiter(_BucketLimiter):
    """Token buckets in this process (thread-safe)."""

    def __init__(self, config: RateLimitConfig, *, clock: object = time.monotonic) -> None:
        super().__init__(config)
        self._clock = clock
        self._lock = threading.Lock()
        now = self._now()
        self._state: dict[str, list[float]] = {
            "read": [config.read_capacity, now],
            "write": [config.write_capacity, now],
        }

    def _now(self) -> float:
        return self._clock()  # type: ignore[operator]

    def try_take(self, bucket: Bucket, cost: int) -> float:
        """Take the tokens and return 0, or return the seconds until enough tokens would be there."""
        rate, cap = self.config.rate(bucket), self.config.capacity(bucket)
        with self._lock:
            state = self._state[bucket]
            now = self._now()
            tokens = min(cap, state[0] + (now - state[1]) * rate)
            state[1] = now
            if tokens >= cost:
                state[0] = tokens - cost
                return 0.0
            state[0] = tokens
            return (cost - tokens) / rate

    async def _take(self, bucket: Bucket, cost: int) -> float:
        return self.try_take(bucket, cost)


# KEYS[1] = bucket key; ARGV = rate, capacity, cost. Returns "0" when taken, else the seconds to wait.
# Time comes from the Redis server so processes on different hosts agree.
_LUA = """
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
end
if now > ts then
  tokens = math.min(cap, tokens + (now - ts) * rate)
end
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000) + 60000)
return tostring(wait)
"""


class RedisRateLimiter(_BucketLimiter):
    """Token buckets shared through Redis, keyed by account (use the API key id)."""

    def __init__(
        self, redis: Redis, account: str, config: RateLimitConfig, *, prefix: str = "kalshi:rl"
    ) -> None:
        super().__init__(config)
        self._redis = redis
        self._script = redis.register_script(_LUA)
        self.account = account
        self.prefix = prefix

    def key(self, bucket: Bucket) -> str:
        return f"{self.prefix}:{self.account}:{bucket}"

    async def _take(self, bucket: Bucket, cost: int) -> float:
        result = await self._script(
            keys=[self.key(bucket)],
            args=[self.config.rate(bucket), self.config.capacity(bucket), cost],
        )
        if isinstance(result, bytes):
            result = result.decode()
        return float(result)

    def __repr__(self) -> str:
        return f"RedisRateLimiter(account={self.account!r}, prefix={self.prefix!r})"
