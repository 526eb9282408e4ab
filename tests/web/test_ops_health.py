"""/healthz (liveness, touches nothing) and /readyz (database, Redis, broker, feed, exchange), on the real parts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, _free_port, _wait_for_port, database_url

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"condition not met in time (last: {last!r})")


def test_readyz_is_200_naming_every_dependency_with_the_feed_running(sim, feed_process, daphne_server):
    def ready() -> Any:
        response = httpx.get(f"{daphne_server}/readyz", timeout=10)
        return response if response.status_code == 200 else None

    response = wait_for(ready)
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "redis", "broker", "feed", "exchange"}
    assert all(check["ok"] for check in body["checks"].values())
    feed = body["checks"]["feed"]
    assert feed["lease_holder"] and feed["lease_ttl_ms"] > 0 and feed["connected"] is True
    assert "last_message_age" in feed
    assert body["checks"]["exchange"]["exchange_active"] is True
    assert body["checks"]["broker"]["queue_length"] >= 0
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_readyz_is_503_naming_the_feed_when_no_feed_holds_the_lease(sim_settings, client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["feed"]
    assert body["checks"]["feed"]["error"] == "no kalshi_feed holds the lease"
    assert body["checks"]["database"]["ok"] and body["checks"]["exchange"]["ok"]


@pytest.fixture
def broken_server(transactional_db: None) -> Any:
    """daphne on the test database with Redis and the exchange pointing at closed ports."""
    port, dead = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": f"redis://127.0.0.1:{dead}/0",
        "KALSHI_API_BASE": f"http://127.0.0.1:{dead}/trade-api/v2",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshiweb.serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_healthz_answers_while_readyz_names_what_failed(broken_server):
    live = httpx.get(f"{broken_server}/healthz", timeout=10)
    assert live.status_code == 200 and live.text == "ok\n"
    response = httpx.get(f"{broken_server}/readyz", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["redis", "broker", "feed", "exchange"]
    assert body["checks"]["database"]["ok"] is True
    for name in body["failed"]:
        assert body["checks"][name]["ok"] is False and body["checks"][name]["error"]
    assert "ExchangeUnavailable" in body["checks"]["exchange"]["error"]  # the exchange's own failure


def test_healthz_makes_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200
