from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean_portfolio_keys(settings):
    """Refresh locks, cached balances and feed positions are per account id, and ids are reused between tests."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    patterns = ("kw:portfolio:*", "kw:positions:*", "kw:balance:*")

    def clear() -> None:
        for pattern in patterns:
            for key in client.scan_iter(pattern):
                client.delete(key)

    clear()
    yield
    clear()
