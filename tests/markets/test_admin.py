from __future__ import annotations

import json

import pytest

from markets import live
from markets.models import Market
from markets.sync import sync_markets
from tests.factories import make_market

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin)
    return client


def test_staff_see_the_feed_health(staff_client):
    live.client().set(
        "kw:feed:health",
        json.dumps(
            {
                "connected": True,
                "name": "feed-1",
                "reconnects": 3,
                "gaps": 1,
                "last_message_age": 0.4,
                "stale_books": 0,
                "watched": 7,
                "messages_per_second": 12.5,
                "published": 99,
            }
        ),
    )
    try:
        body = staff_client.get("/admin/markets/market/feed-health/").content.decode()
    finally:
        live.client().delete("kw:feed:health")
    assert "Watched markets" in body and "<td>7</td>" in body and "<td>3</td>" in body


def test_the_feed_health_page_says_when_the_feed_is_down(staff_client):
    live.client().delete("kw:feed:health")
    body = staff_client.get("/admin/markets/market/feed-health/").content.decode()
    assert "The feed is not running" in body


def test_market_admin_searches_and_keeps_exchange_fields_read_only(staff_client):
    make_market("KXFED-26DEC-T4.25")
    body = staff_client.get("/admin/markets/market/", {"q": "KXFED"}).content.decode()
    assert "KXFED-26DEC-T4.25" in body
    page = staff_client.get("/admin/markets/market/KXFED-26DEC-T4.25/change/").content.decode()
    assert 'name="yes_bid"' not in page  # shown, not editable


def test_the_resync_action_refreshes_selected_markets_from_the_exchange(staff_client, sim_settings, sim):
    sync_markets()
    market = Market.objects.filter(status="active").first()
    Market.objects.filter(pk=market.pk).update(title="edited locally")
    response = staff_client.post(
        "/admin/markets/market/", {"action": "resync_now", "_selected_action": [market.pk]}, follow=True
    )
    assert "Re-synced 1 of 1" in response.content.decode()
    market.refresh_from_db()
    assert market.title != "edited locally"
