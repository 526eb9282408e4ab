"""No view sends a browser to a place named by the request: every `next` that is not a page on this site falls
back to the view's own page (the watch toggle's fix is in tests/markets/test_views.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import make_user
from trading.models import KalshiAccount, Order

pytestmark = pytest.mark.django_db

OFF_SITE = ["https://evil.example/", "//evil.example", "/\\evil.example", "http:evil.example"]


def off_site(location: str) -> bool:
    return "evil.example" in location


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_login_form_ignores_an_off_site_next(client, target):
    make_user("alice")
    response = client.post(
        f"/login/?next={target}", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302 and not off_site(response["Location"])
    response = client.post(
        "/login/", {"username": "alice", "password": "correct-horse-battery", "next": target}
    )
    assert response.status_code == 302 and not off_site(response["Location"])


@pytest.mark.parametrize("target", OFF_SITE)
def test_logging_out_ignores_an_off_site_next(client, target):
    client.force_login(make_user("alice"))
    response = client.post("/logout/", {"next": target})
    assert not off_site(response.get("Location", ""))


@pytest.mark.parametrize("target", OFF_SITE)
def test_a_plain_cancel_post_ignores_an_off_site_next(client, target):
    user = make_user("alice")
    client.force_login(user)
    account = KalshiAccount.objects.create(name="desk", api_key_id="key-1")
    order = Order.objects.create(
        user=user,
        account=account,
        ticker="KXFED-26DEC-T4.25",
        outcome="yes",
        action="buy",
        price=Decimal("0.40"),
        book_side="bid",
        yes_price=Decimal("0.40"),
        count=Decimal(1),
        remaining_count=Decimal(0),
        time_in_force="gtc",
        status=Order.Status.CANCELED,  # nothing to send: only the redirect is under test
    )
    response = client.post(f"/orders/{order.pk}/cancel/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
