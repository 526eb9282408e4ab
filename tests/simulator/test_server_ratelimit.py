"""Server-side token buckets (protocol §6.7)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import httpx
import pytest

from kalshiweb.simulator.ratelimit import RateLimiter, tier_limits
from kalshiweb.simulator.testing import RunningSimulator, start_simulator

from .simhelp import TICKERS, Trader, add_markets


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(catalog=False, rate_limit_tier="basic") as running:
        add_markets(running)
        yield running


def test_reads_get_429_with_the_exact_body_after_the_bucket_is_empty(sim: RunningSimulator) -> None:
    trader = Trader(sim)
    started = time.monotonic()
    statuses = [trader.get("/portfolio/balance") for _ in range(80)]
    elapsed = time.monotonic() - started
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, "basic read bucket holds 400 tokens = 40 requests"
    # 40 from the full bucket, plus whatever refilled (200 tokens/s = 20 requests/s) while we were sending.
    assert 39 <= statuses.index(limited[0]) <= 40 + math.ceil(20 * elapsed) + 1
    assert limited[0].json() == {"error": "too many requests"}
    assert "retry-after" not in limited[0].headers
    assert not any(h.startswith("x-ratelimit") for h in limited[0].headers)


def test_writes_have_their_own_bucket(sim: RunningSimulator) -> None:
    trader = Trader(sim)
    codes = [trader.order(TICKERS[0], "bid", "1", "0.01").status_code for _ in range(40)]
    assert codes[:10] == [201] * 10  # basic write bucket: 100 tokens, 10 per create
    assert 429 in codes[10:]
    assert trader.get("/portfolio/balance").status_code == 200


def test_a_batch_costs_per_item(sim: RunningSimulator) -> None:
    trader = Trader(sim)
    order = {
        "ticker": TICKERS[1],
        "side": "bid",
        "count": "1",
        "price": "0.01",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
    }
    assert trader.post("/portfolio/events/orders/batched", {"orders": [order] * 11}).status_code == 429
    assert trader.post("/portfolio/events/orders/batched", {"orders": [order] * 10}).status_code == 201
    assert trader.order(TICKERS[1], "bid", "1", "0.01").status_code == 429


def test_unauthenticated_reads_are_limited_per_ip(sim: RunningSimulator) -> None:
    with httpx.Client(base_url=sim.rest_base) as http:
        codes = [http.get("/exchange/status").status_code for _ in range(50)]
    assert 429 in codes


def test_tiers_and_disabled_limiter() -> None:
    basic = tier_limits("basic")
    assert (basic.read_rate, basic.read_capacity, basic.write_rate, basic.write_capacity) == (
        200,
        400,
        100,
        100,
    )
    premier = tier_limits("premier")
    assert (premier.read_capacity, premier.write_capacity) == (1000, 2000)
    off = RateLimiter(None)
    assert all(off.allow("u", "write", 10_000) for _ in range(100))
    clock = [0.0]
    limiter = RateLimiter("basic", clock=lambda: clock[0])
    assert sum(limiter.allow("u", "write") for _ in range(20)) == 10
    clock[0] += 0.1  # refills 10 tokens = one request
    assert limiter.allow("u", "write") and not limiter.allow("u", "write")
    with pytest.raises(ValueError):
        tier_limits("platinum")
