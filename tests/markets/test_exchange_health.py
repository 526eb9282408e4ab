"""The exchange as seen from the server, in the top bar: an unreachable host, a refused key and a skewed clock
(simulator faults) are named with their fix and start time; the markets list says why it is empty."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from kalshiweb.simulator.auth import generate_rsa_key_pair
from kalshiweb.simulator.testing import RunningSimulator, start_simulator
from markets import exchange_health, live
from markets.tasks import probe_exchange

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def exchange() -> Iterator[RunningSimulator]:
    with start_simulator(seed=1, activity=0.0, catalog=False) as running:
        yield running


@pytest.fixture
def deployment_key(exchange, settings, tmp_path):
    """Point the deployment (KALSHI_API_BASE + key) at the simulator with a key it knows."""
    exchange.faults.reset()
    key_id, pem = exchange.add_account(Decimal("100"))
    path = tmp_path / "deploy.pem"
    path.write_bytes(pem)
    settings.KALSHI_API_BASE = exchange.rest_base
    settings.KALSHI_API_KEY_ID = key_id
    settings.KALSHI_PRIVATE_KEY_PATH = str(path)
    yield key_id
    exchange.faults.reset()


@pytest.fixture
def alice(client):
    user = get_user_model().objects.create_user("alice", password="correct-horse-battery")
    client.force_login(user)
    return user


def strip(client) -> str:
    body = client.get("/markets/exchange-status/").content.decode()
    assert 'id="exchange-status"' in body
    return body


def test_a_healthy_exchange_shows_no_strip(client, alice, deployment_key):
    assert probe_exchange() == "ok"
    body = strip(client)
    assert "exchange-ok" in body and "Exchange:" not in body


def test_an_unresolvable_host_is_named_in_the_top_bar_and_the_empty_markets_list(client, alice, settings):
    settings.KALSHI_API_BASE = "https://external-api.demo.kalshi.invalid/trade-api/v2"
    settings.KALSHI_API_KEY_ID = ""
    exchange_health.probe()
    page = client.get("/markets/").content.decode()
    assert (
        "Exchange:</strong> Exchange unreachable (DNS lookup of external-api.demo.kalshi.invalid failed"
        in page
    )
    assert "The exchange cannot be used from this server: Exchange unreachable (DNS lookup" in page
    assert "run <code>manage.py sync_markets</code>" not in page


def test_a_refused_key_is_named_with_its_fix(client, alice, deployment_key, settings, tmp_path):
    pem, _ = generate_rsa_key_pair()
    (tmp_path / "other.pem").write_bytes(pem)
    settings.KALSHI_API_KEY_ID = "revoked-key"
    settings.KALSHI_PRIVATE_KEY_PATH = str(tmp_path / "other.pem")
    assert "refused" in probe_exchange()
    body = strip(client)
    assert "Key revoked-key refused" in body and "(401: " in body
    assert "check KALSHI_API_KEY_ID / the key&#x27;s environment" in body


def test_a_skewed_clock_is_named_and_keeps_its_start_time(client, alice, deployment_key, exchange):
    exchange.faults.clock_skew(240)
    first = exchange_health.probe(now=datetime(2026, 12, 4, 9, 0, 0, tzinfo=UTC))
    again = exchange_health.probe(now=datetime(2026, 12, 4, 9, 0, 30, tzinfo=UTC))
    assert first["problem"].startswith("Clock 4 min off: this machine is behind the exchange")
    assert again["since"] == first["since"] == "2026-12-04T09:00:00+00:00"
    body = strip(client)
    assert "Clock 4 min off" in body and "signatures will fail" in body and "since 09:00:00 UTC" in body
    exchange.faults.reset()
    assert exchange_health.probe()["problem"] is None  # the problem clears on the next probe


def test_garbage_in_redis_reads_as_no_status(client, alice):
    live.client().set(exchange_health.STATUS_KEY, b"\xff not json")
    assert exchange_health.current() is None
    assert "Exchange:" not in strip(client)


def test_it_requires_login(client):
    assert client.get("/markets/exchange-status/").status_code == 302


@pytest.mark.browser
def test_the_strip_is_visible_in_chromium_beside_a_live_socket_badge(daphne_server, page, settings):
    get_user_model().objects.create_user("bob", password="correct-horse-battery")
    since = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    status = {
        "level": "fail",
        "check": "dns",
        "problem": "Exchange unreachable (DNS lookup of external-api.demo.kalshi.co failed)",
        "fix": "check the host in KALSHI_API_BASE and this machine's DNS and network access",
        "since": since,
        "checked_at": since,
        "checks": [],
    }
    live.client().set(exchange_health.STATUS_KEY, json.dumps(status))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.goto(f"{daphne_server}/markets/")
    banner = page.locator("#exchange-status")
    assert banner.is_visible()
    assert "DNS lookup of external-api.demo.kalshi.co failed" in banner.inner_text()
    box = banner.bounding_box()
    assert box is not None and box["y"] < 120  # under the top bar, not below the fold
