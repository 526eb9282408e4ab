"""A desk funds one Kalshi account and gives each trader a subaccount (issue #15, item 6), end to end through the
app: staff create the subaccounts and move cash in the admin, each trader's orders go to their own subaccount
on the simulator (a real Celery worker sends them), and each trader's balance, positions and P&L come from
their own subaccount. Plus the pieces: the scoped client, transfers exactly once, the private stream's filter."""

from __future__ import annotations

import re
from decimal import Decimal as D
from typing import Any

import pytest

from kalshiweb.kalshi import messages as m
from portfolio import services as portfolio_services
from tests.factories import make_user
from tests.trading.orderkit import counterparty, fresh_market, funded_account, hit_bid
from tests.trading.test_submission import cleaned, list_market, wait_for
from trading import subaccounts
from trading.clients import client_for
from trading.models import Fill, KalshiAccount, Order, SubaccountTransfer, TraderProfile
from trading.private_feed import message_subaccount
from trading.services import place_order, request_cancels
from trading.tasks import cancel_trader_orders

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(client: Any, django_user_model: Any) -> Any:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin)
    return client


def sim_account(sim: Any, user_id: str, number: int) -> Any:
    return sim.call(lambda: sim.exchange.ledger.sub_account(user_id, number))


def page_balance(html: str) -> str:
    return re.search(r'id="pf-balance">([^<]+)<', html).group(1)  # type: ignore[union-attr]


def test_two_traders_on_two_subaccounts_are_isolated(sim, sim_settings, celery_worker, staff, client):
    parent, member = funded_account(sim, "desk", D("1000"))

    # Staff: two subaccounts (the admin action), each funded by a transfer (the admin's add form).
    for _ in range(2):
        response = staff.post(
            "/admin/trading/kalshiaccount/",
            {"action": "create_subaccount", "_selected_action": [parent.pk]},
            follow=True,
        )
        assert response.status_code == 200
    sub1, sub2 = KalshiAccount.objects.filter(parent=parent).order_by("subaccount")
    assert (sub1.subaccount, sub2.subaccount) == (1, 2)
    assert sub1.api_key_id == parent.api_key_id
    for sub, amount in ((sub1, "300.00"), (sub2, "200.00")):
        response = staff.post(
            "/admin/trading/subaccounttransfer/add/",
            {"from_account": parent.pk, "to_account": sub.pk, "amount": amount},
            follow=True,
        )
        assert response.status_code == 200, response.content
    assert list(SubaccountTransfer.objects.values_list("status", flat=True)) == ["done", "done"]
    assert sim_account(sim, member, 0).balance == D("500")
    assert sim_account(sim, member, 1).balance == D("300")
    assert sim_account(sim, member, 2).balance == D("200")

    alice, bob = make_user("alice"), make_user("bob")
    TraderProfile.objects.create(user=alice, account=sub1)
    TraderProfile.objects.create(user=bob, account=sub2)
    ticker = fresh_market(sim)
    list_market(ticker)

    # Each trader's order rests in their own subaccount.
    a = place_order(alice, cleaned(price=D("0.40"), count=D("10")), ticker)
    b = place_order(bob, cleaned(price=D("0.30"), count=D("5")), ticker)
    a = wait_for(lambda: Order.objects.filter(pk=a.pk, status=Order.Status.RESTING).first())
    b = wait_for(lambda: Order.objects.filter(pk=b.pk, status=Order.Status.RESTING).first())
    assert set(sim_account(sim, member, 1).orders) == {a.exchange_order_id}
    assert set(sim_account(sim, member, 2).orders) == {b.exchange_order_id}
    assert sim_account(sim, member, 0).orders == {}

    # Alice's bid fills; Bob cancels his with his kill switch (a batch cancel naming his subaccount).
    hit_bid(counterparty(sim), ticker, D("10"), D("0.40"))
    cancel_trader_orders.delay([p.pk for p in request_cancels(bob, [b])], "bob")
    wait_for(lambda: Order.objects.filter(pk=b.pk, status=Order.Status.CANCELED).exists())

    # The portfolio refresh reads each subaccount's own balance, positions and fills; the desk's own account
    # (subaccount 0) takes in none of its subaccounts' fills.
    for sub in (sub1, sub2, parent):
        portfolio_services.refresh(sub, client_for(sub))
    assert not Fill.objects.filter(account=parent).exists()
    assert Fill.objects.filter(account=sub1).count() == 1
    wait_for(lambda: Order.objects.filter(pk=a.pk, status=Order.Status.EXECUTED).exists())

    client.force_login(alice)
    html = client.get("/portfolio/").content.decode()
    assert page_balance(html) == "$296.00"  # 300 - 10 x 0.40
    assert f'id="pf-row-{ticker}"' in html
    assert "Subaccount 1 balance" in html
    view = portfolio_services.build_view(sub1, alice)
    assert [(r.ticker, r.pnl.position) for r in view.rows] == [(ticker, D("10"))]
    # the partial the socket pushes and the poll re-reads says whose cash it is, as the page did
    assert "Subaccount 1 balance" in portfolio_services.render_live(view)
    assert "Subaccount 1 balance" in client.get("/portfolio/live/").content.decode()

    client.force_login(bob)
    html = client.get("/portfolio/").content.decode()
    assert page_balance(html) == "$200.00"  # his order's collateral came back; nothing of Alice's
    assert ticker not in html
    assert portfolio_services.build_view(sub2, bob).rows == []
    assert sim_account(sim, member, 0).balance == D("500")  # the desk's own cash untouched


def test_a_transfer_whose_answer_is_lost_is_sent_again_and_applied_once(sim, sim_settings):
    parent, member = funded_account(sim, "desk", D("100"))
    sub = subaccounts.create_subaccount(parent)
    sim.faults.fail_next(
        1, "timeout_after_accept", path_prefix="/portfolio/subaccounts/transfer", hang_seconds=30
    )
    transfer = subaccounts.order_transfer(parent, sub, D("25.00"))
    first = subaccounts.send_transfer(transfer.pk)
    assert first.status == SubaccountTransfer.Status.PENDING and "send it again" in first.error
    again = subaccounts.send_transfer(transfer.pk)
    assert again.status == SubaccountTransfer.Status.DONE
    assert sim_account(sim, member, 1).balance == D("25")
    assert sim_account(sim, member, 0).balance == D("75")
    assert subaccounts.send_transfer(transfer.pk).status == SubaccountTransfer.Status.DONE  # nothing sent
    assert sim_account(sim, member, 1).balance == D("25")


def test_a_refused_transfer_says_why_and_moves_nothing(sim, sim_settings):
    parent, member = funded_account(sim, "desk", D("10"))
    sub = subaccounts.create_subaccount(parent)
    transfer = subaccounts.send_transfer(subaccounts.order_transfer(parent, sub, D("50.00")).pk)
    assert transfer.status == SubaccountTransfer.Status.FAILED and transfer.error
    assert sim_account(sim, member, 1).balance == D("0")


@pytest.mark.parametrize(
    ("amount", "message"), [(D("0"), "positive"), (D("1.005"), "whole cents"), (D("-3"), "positive")]
)
def test_bad_transfers_are_refused_before_anything_is_stored(sim, sim_settings, amount, message):
    parent, _ = funded_account(sim, "desk", D("10"))
    sub = subaccounts.create_subaccount(parent)
    with pytest.raises(subaccounts.SubaccountError, match=message):
        subaccounts.order_transfer(parent, sub, amount)
    other, _ = funded_account(sim, "other", D("10"))
    with pytest.raises(subaccounts.SubaccountError, match="same Kalshi account"):
        subaccounts.order_transfer(other, sub, D("1"))
    with pytest.raises(subaccounts.SubaccountError, match="cannot have subaccounts"):
        subaccounts.create_subaccount(sub)
    assert not SubaccountTransfer.objects.exists()


def test_the_private_stream_keeps_only_its_subaccounts_messages():
    from datetime import UTC, datetime

    from kalshiweb.simulator import wire
    from kalshiweb.simulator.model import Fill, Order

    now = datetime(2026, 12, 1, tzinfo=UTC)
    order = Order(
        "o1", "u1", "KX-A", "bid", D("0.40"), D(1), D(0), "good_till_canceled", now, now, subaccount=2
    )
    fill = Fill(
        "t1", "t1", "o1", "u1", "KX-A", "bid", True, D("0.40"), D(1), D("0.01"), now, D(1), subaccount=2
    )
    sub = m.parse_message({"type": "fill", "sid": 1, "msg": wire.ws_fill_msg(fill, order)})
    user_order = m.parse_message({"type": "user_order", "sid": 2, "msg": wire.ws_user_order_msg(order)})
    fill.subaccount = order.subaccount = 0
    primary = m.parse_message({"type": "fill", "sid": 1, "msg": wire.ws_fill_msg(fill, order)})
    assert message_subaccount(sub) == 2 and message_subaccount(user_order) == 2
    assert message_subaccount(primary) == 0


def test_the_admin_pages_render_and_a_bad_transfer_is_refused_on_the_form(sim, sim_settings, staff):
    parent, member = funded_account(sim, "desk", D("10"))
    sub = subaccounts.create_subaccount(parent)
    other, _ = funded_account(sim, "other", D("10"))
    assert staff.get("/admin/trading/subaccounttransfer/add/").status_code == 200
    assert staff.get("/admin/trading/subaccounttransfer/").status_code == 200
    assert sub.name in staff.get("/admin/trading/kalshiaccount/").content.decode()
    response = staff.post(
        "/admin/trading/subaccounttransfer/add/",
        {"from_account": other.pk, "to_account": sub.pk, "amount": "1.00"},
    )
    assert response.status_code == 200 and "same Kalshi account" in response.content.decode()
    assert not SubaccountTransfer.objects.exists()
    assert sim_account(sim, member, 1).balance == D("0")
