"""Snapshots are read-only in the admin; staff see every account's exposure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from portfolio.models import PortfolioSnapshot
from tests.factories import make_user
from tests.portfolio.helpers import make_fill, make_trader

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_snapshots_cannot_be_added_or_changed_in_the_admin(client, staff):
    _, account = make_trader("alice")
    snap = PortfolioSnapshot.objects.create(
        account=account, balance=D("1"), portfolio_value=D("2"), as_of=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert client.get("/admin/portfolio/portfoliosnapshot/add/").status_code == 403
    response = client.get(f"/admin/portfolio/portfoliosnapshot/{snap.pk}/change/")
    assert response.status_code == 200 and 'name="balance"' not in response.content.decode()
    response = client.post(f"/admin/portfolio/portfoliosnapshot/{snap.pk}/change/", {"balance": "99"})
    assert response.status_code == 403
    snap.refresh_from_db()
    assert snap.balance == D("1")


def test_staff_see_every_accounts_exposure(client, staff):
    _, alice = make_trader("alice")
    _, bob = make_trader("bob")
    make_fill(alice, "KX-A", "bid", "0.40", "10")
    make_fill(bob, "KX-A", "ask", "0.40", "10")  # 10 NO at 60¢
    html = client.get("/portfolio/staff/exposure/").content.decode()
    assert "acct-alice" in html and "$4.00" in html
    assert "acct-bob" in html and "$6.00" in html


def test_traders_cannot_see_the_staff_view(client):
    user, _ = make_trader("alice")
    client.force_login(user)
    assert client.get("/portfolio/staff/exposure/").status_code == 302
