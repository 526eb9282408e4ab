"""Each trader's order group, end to end through the app: a real Celery worker, the simulator over loopback HTTP.

The group is created once (also under redelivery and a lost answer), every order goes into it, fills past the
limit trip it on the exchange (orders canceled, new ones refused and the ticket says why), the reset reopens it,
and the kill switch triggers it on the exchange."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest
from django.test import Client

from kalshiweb.kalshi import messages as m
from tests.trading.orderkit import counterparty, exchange_orders, fresh_market, hit_bid
from tests.trading.test_submission import cleaned, wait_for
from trading import order_groups
from trading.models import Order, OrderGroup, TraderProfile
from trading.services import TradingRefused, check_can_trade, place_order
from trading.tasks import submit_order

pytestmark = pytest.mark.django_db(transaction=True)


def with_limit(trader, limit: int = 5) -> TraderProfile:
    profile = TraderProfile.objects.get(user=trader)
    profile.max_contracts_filled_per_15s = D(limit)
    profile.save()
    return profile


def exchange_groups(sim, trader) -> list:
    return list(sim.call(lambda: sim.exchange.order_groups.of_user(trader.sim_user_id)))


def resting(order: Order) -> Order:
    return wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).first())


def test_orders_go_into_one_group_created_once_under_redelivery(sim, trader, celery_worker):
    with_limit(trader)
    ticker = fresh_market(sim)
    orders = [place_order(trader, cleaned(price=D(p)), ticker) for p in ("0.02", "0.03", "0.04")]
    for order in orders:
        submit_order.delay(order.pk)  # a redelivery of each
    orders = [resting(o) for o in orders]
    groups = exchange_groups(sim, trader)
    assert len(groups) == 1
    group = OrderGroup.objects.get(profile__user=trader)
    assert group.exchange_id == groups[0].group_id and group.contracts_limit == 5
    assert {o.order_group_id for o in orders} == {group.exchange_id}
    remote = exchange_orders(sim, trader.sim_user_id, ticker=ticker)
    assert {o.order_group_id for o in remote} == {group.exchange_id} and len(remote) == 3


def test_a_lost_create_answer_adopts_the_group_instead_of_making_a_second(
    sim, trader, celery_worker, settings
):
    settings.KALSHI_ORDER_TIMEOUT_SECONDS = 1.0
    with_limit(trader)
    ticker = fresh_market(sim)
    sim.faults.fail_next(
        1, "timeout_after_accept", path_prefix="/portfolio/order_groups/create", hang_seconds=3
    )
    try:
        order = resting(place_order(trader, cleaned(), ticker))
    finally:
        sim.faults.reset()
    groups = exchange_groups(sim, trader)
    assert len(groups) == 1
    assert (
        order.order_group_id == groups[0].group_id == OrderGroup.objects.get(profile__user=trader).exchange_id
    )


def test_a_trader_without_a_limit_trades_outside_any_group(sim, trader, celery_worker):
    order = resting(place_order(trader, cleaned(), fresh_market(sim)))
    assert order.order_group_id == ""
    assert exchange_groups(sim, trader) == []


def test_the_group_trips_blocks_and_reset_reopens(sim, trader, celery_worker):
    with_limit(trader, 5)
    ticker = fresh_market(sim)
    order = resting(place_order(trader, cleaned(count=D("10")), ticker))
    hit_bid(counterparty(sim), ticker, D("6"))  # 6 filled within 15 s > 5: the exchange trips the group
    (remote,) = exchange_orders(sim, trader.sim_user_id, client_order_id=str(order.client_order_id))
    assert remote.status == "canceled" and remote.fill_count == 6

    # The app learns of the trip from the exchange (here: the refusal of the next order; live: the feed).
    refused = place_order(trader, cleaned(), ticker)
    refused = wait_for(lambda: Order.objects.filter(pk=refused.pk, status=Order.Status.REJECTED).first())
    assert refused.error_code == "order_group_triggered"
    group = wait_for(lambda: OrderGroup.objects.filter(profile__user=trader, state="triggered").first())
    with pytest.raises(TradingRefused, match="order group tripped"):
        check_can_trade(trader)

    client = Client()
    client.force_login(trader)
    page = client.get("/orders/").content.decode()
    assert 'data-state="triggered"' in page and "Reset order group" in page
    assert client.post("/orders/order-group/reset/").status_code == 302
    wait_for(lambda: OrderGroup.objects.filter(pk=group.pk, state="active").exists())
    assert not sim.call(lambda: sim.exchange.order_groups.groups[group.exchange_id].triggered)
    again = resting(place_order(trader, cleaned(), ticker))
    assert again.order_group_id == group.exchange_id
    assert 'data-state="active"' in client.get("/orders/order-group/").content.decode()


def test_the_kill_switch_triggers_the_group_on_the_exchange(sim, trader, celery_worker):
    with_limit(trader, 50)
    ticker = fresh_market(sim)
    order = resting(place_order(trader, cleaned(), ticker))
    client = Client()
    client.force_login(trader)
    assert client.post("/orders/kill-switch/", {"confirm": "yes"}).status_code == 302
    wait_for(lambda: sim.call(lambda: sim.exchange.order_groups.groups[order.order_group_id].triggered))
    wait_for(lambda: OrderGroup.objects.filter(profile__user=trader, state="triggered").exists())
    (remote,) = exchange_orders(sim, trader.sim_user_id, client_order_id=str(order.client_order_id))
    assert remote.status == "canceled"


def test_the_feeds_order_group_updates_set_the_state(sim, trader):
    profile = with_limit(trader)
    group = OrderGroup.objects.create(
        profile=profile, account=trader.kalshi_account, exchange_id="og-1", contracts_limit=5
    )
    other = OrderGroup.objects.create(
        profile=TraderProfile.objects.create(user=_user("bob"), account=trader.kalshi_account),
        account=trader.kalshi_account,
        exchange_id="og-2",
        contracts_limit=5,
    )

    def update(event_type: str, gid: str = "og-1", limit: str | None = None) -> None:
        msg = {"event_type": event_type, "order_group_id": gid, "ts_ms": int(time.time() * 1000)}
        if limit:
            msg["contracts_limit_fp"] = limit
        parsed = m.parse_message({"type": "order_group_updates", "sid": 1, "seq": 1, "msg": msg})
        assert isinstance(parsed, m.OrderGroupUpdate)
        order_groups.on_update(trader.kalshi_account.pk, parsed)

    update("triggered")
    assert OrderGroup.objects.get(pk=group.pk).state == "triggered"
    assert OrderGroup.objects.get(pk=other.pk).state == "active"  # another trader's group is not touched
    update("limit_updated", limit="8.00")
    assert OrderGroup.objects.get(pk=group.pk).contracts_limit == 8
    update("reset")
    assert OrderGroup.objects.get(pk=group.pk).state == "active"
    update("triggered", gid="og-unknown")  # not ours: ignored
    update("deleted")
    assert OrderGroup.objects.get(pk=group.pk).exchange_id is None


def _user(name: str):
    from tests.factories import make_user

    return make_user(name)


def test_the_admin_sets_the_limit_on_the_exchange_and_resets_the_group(
    sim, trader, celery_worker, django_user_model
):
    profile = with_limit(trader, 5)
    order = resting(place_order(trader, cleaned(), fresh_market(sim)))
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(staff)
    url = f"/admin/trading/traderprofile/{profile.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(max_contracts_filled_per_15s="12", user=trader.pk, account=trader.kalshi_account.pk)
    for flag in ("can_trade", "halted"):
        if not data.get(flag):
            data.pop(flag, None)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    gid = order.order_group_id
    wait_for(lambda: sim.call(lambda: sim.exchange.order_groups.groups[gid].limit) == 12)
    wait_for(lambda: OrderGroup.objects.filter(profile=profile, contracts_limit=12).exists())

    sim.call(lambda: sim.exchange.order_groups.trigger(trader.sim_user_id, gid))
    OrderGroup.objects.filter(profile=profile).update(state="triggered")
    changelist = "/admin/trading/traderprofile/"
    response = client.post(changelist, {"action": "reset_order_groups", "_selected_action": [profile.pk]})
    assert response.status_code == 302
    wait_for(lambda: OrderGroup.objects.filter(profile=profile, state="active").exists())
    assert not sim.call(lambda: sim.exchange.order_groups.groups[gid].triggered)
    assert "active" in client.get(changelist).content.decode()
