"""The admin's rate-budget meter: each account's shared read and write buckets, as full as they are now."""

from __future__ import annotations

import re

import pytest

from markets import live
from trading import clients, rate_budget

pytestmark = pytest.mark.django_db(transaction=True)


def write_meter(body: str) -> int:
    match = re.search(r'title="write bucket: (\d+) of (\d+) tokens', body)
    assert match, body
    return int(match.group(1))


def test_the_meter_falls_as_the_bucket_is_spent(sim, trader, django_user_model, client):
    account = trader.kalshi_account
    redis = live.client()
    redis.delete(f"kalshi:rl:{account.api_key_id}:read", f"kalshi:rl:{account.api_key_id}:write")
    staff = django_user_model.objects.create_user("boss", password="x", is_staff=True, is_superuser=True)
    client.force_login(staff)
    body = client.get("/admin/trading/kalshiaccount/").content.decode()
    capacity = clients.rate_limit_config().write_capacity
    assert write_meter(body) == capacity  # never used: full
    assert "<meter" in body

    # A bucket stored at 25 tokens (stamped ahead of the clock, so nothing refills while the page loads).
    seconds, _ = redis.time()
    redis.hset(f"kalshi:rl:{account.api_key_id}:write", mapping={"tokens": "25", "ts": str(seconds + 60)})
    assert write_meter(client.get("/admin/trading/kalshiaccount/").content.decode()) == 25

    # Spent through the account's real shared limiter, the bucket is lower (it refills at the tier's rate).
    redis.delete(f"kalshi:rl:{account.api_key_id}:write")
    sync_client = clients.client_for(account)
    sync_client._runner.run(sync_client.client.limiter.acquire("write", int(capacity)))
    levels = {b.bucket: b for b in rate_budget.levels(account)}
    assert levels["write"].tokens < capacity * 0.9
    assert levels["read"].tokens > levels["write"].tokens  # the buckets are separate
    clients.forget_clients()
