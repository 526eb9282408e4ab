"""Server-side token buckets shaped like Kalshi's (protocol §6.7).

Two buckets per user, read and write. Every request costs ``DEFAULT_COST`` (10) tokens; a cancel costs
``CANCEL_COST`` (2; the docs' batch example bills cancels at 2 tokens each, so single cancels do too here);
batches cost per item. Capacities follow the docs: Basic and Advanced *read* buckets and every *write* bucket
above Basic hold 2 s of budget, the rest 1 s (so Basic write = 100/s, capacity 100). Unauthenticated reads are
limited per client IP with the tier's read bucket. A rejected request costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_COST = 10
CANCEL_COST = 2

# tier: (read tokens/s, write tokens/s)
TIER_RATES: dict[str, tuple[int, int]] = {
    "basic": (200, 100),
    "advanced": (300, 300),
    "expert": (600, 600),
    "premier": (1000, 1000),
    "paragon": (2000, 2000),
    "prime": (4000, 4000),
    "prestige": (10000, 8000),
}


@dataclass(frozen=True)
class TierLimits:
    name: str
    read_rate: int
    read_capacity: int
    write_rate: int
    write_capacity: int


def tier_limits(name: str) -> TierLimits:
    try:
        read, write = TIER_RATES[name]
    except KeyError:
        raise ValueError(f"unknown rate-limit tier {name!r}; choose one of {sorted(TIER_RATES)}") from None
    read_capacity = read * 2 if name in ("basic", "advanced") else read
    write_capacity = write if name == "basic" else write * 2
    return TierLimits(name, read, read_capacity, write, write_capacity)


class TokenBucket:
    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = float(capacity)
        self.clock = clock
        self.updated = clock()

    def take(self, cost: float) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True


class RateLimiter:
    """``tier=None`` disables limiting. Call only from the server loop."""

    def __init__(self, tier: str | None = "basic", clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = tier_limits(tier) if tier else None
        self.clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    @property
    def enabled(self) -> bool:
        return self.limits is not None

    def allow(self, identity: str, kind: str, cost: int = DEFAULT_COST) -> bool:
        """``identity`` is a user id or ``ip:<addr>``; ``kind`` is ``read`` or ``write``."""
        if self.limits is None:
            return True
        bucket = self._buckets.get((identity, kind))
        if bucket is None:
            if kind == "write":
                rate, capacity = self.limits.write_rate, self.limits.write_capacity
            else:
                rate, capacity = self.limits.read_rate, self.limits.read_capacity
            bucket = self._buckets[(identity, kind)] = TokenBucket(rate, capacity, self.clock)
        return bucket.take(cost)

    def account_limits_json(self) -> dict[str, object]:
        limits = self.limits or tier_limits("prestige")
        return {
            "usage_tier": limits.name if self.limits else "none",
            "read": {"refill_rate": limits.read_rate, "bucket_capacity": limits.read_capacity},
            "write": {"refill_rate": limits.write_rate, "bucket_capacity": limits.write_capacity},
            "grants": [{"exchange_instance": "event_contract", "level": limits.name, "source": "manual"}],
        }
