"""amendOrder, cancelOrder, cancelAllOrders, killSwitch and the fills query, through the desk's services, against
the real simulator, Redis and a Celery worker."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from tests.graphql.conftest import codes, gql, tradable_market
from tests.trading import orderkit as kit
from tests.trading.test_submission import wait_for
from trading import clients
from trading.fills import reconcile_account
from trading.models import Order, TraderProfile

pytestmark = pytest.mark.django_db(transaction=True)

PLACE = "mutation($i: OrderInput!) { placeOrder(input: $i) { id status } }"
ORDER_FIELDS = "id status price quantity filledQuantity remainingQuantity amending"


def place_resting(token: str, ticker: str, price: str = "0.02", quantity: str = "3") -> Order:
    variables = {"i": {"marketId": ticker, "side": "YES", "quantity": quantity, "price": price}}
    result = gql(PLACE, variables, token=token)
    assert "errors" not in result, result
    pk = result["data"]["placeOrder"]["id"]
    return wait_for(lambda: Order.objects.filter(pk=pk, status=Order.Status.RESTING).first())


def test_amend_changes_the_order_on_the_exchange(sim, trader, token, celery_worker):
    ticker = tradable_market(sim)
    order = place_resting(token, ticker)
    result = gql(
        f'mutation($id: ID!) {{ amendOrder(id: $id, price: "0.05", quantity: "4") {{ {ORDER_FIELDS} }} }}',
        {"id": order.pk},
        token=token,
    )
    assert "errors" not in result, result
    assert result["data"]["amendOrder"]["amending"] is True
    amended = wait_for(lambda: Order.objects.filter(pk=order.pk, amend_price=None, price=D("0.05")).first())
    assert amended.count == D("4")
    remote = kit.exchange_orders(sim, trader.sim_user_id, ticker=ticker)
    assert [(r.yes_price, r.remaining_count) for r in remote if r.status == "resting"] == [
        (D("0.05"), D("4"))
    ]
    assert {"amend_requested", "amended"} <= set(amended.events.values_list("kind", flat=True))

    # Nothing to change, and a price off the grid: the ticket's own checks, nothing queued.
    same = gql(
        'mutation($id: ID!) { amendOrder(id: $id, price: "0.05") { id } }', {"id": order.pk}, token=token
    )
    assert codes(same) == ["BAD_USER_INPUT"]
    off = gql(
        'mutation($id: ID!) { amendOrder(id: $id, price: "0.055") { id } }', {"id": order.pk}, token=token
    )
    assert off["errors"][0]["extensions"]["field"] == "price"
    assert Order.objects.get(pk=order.pk).amend_price is None


def test_cancel_order_returns_canceling_then_cancels_on_the_exchange(sim, trader, token, celery_worker):
    ticker = tradable_market(sim)
    order = place_resting(token, ticker)
    result = gql(
        f"mutation($id: ID!) {{ cancelOrder(id: $id) {{ {ORDER_FIELDS} }} }}", {"id": order.pk}, token=token
    )
    assert result["data"]["cancelOrder"]["status"] in ("canceling", "canceled"), result
    wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.CANCELED).first())
    remote = kit.exchange_orders(sim, trader.sim_user_id, ticker=ticker)
    assert [r.status for r in remote] == ["canceled"]
    again = gql("mutation($id: ID!) { cancelOrder(id: $id) { id } }", {"id": order.pk}, token=token)
    assert codes(again) == ["CONFLICT"]


def test_cancel_all_in_a_market_cancels_only_that_markets_orders(sim, trader, token, celery_worker):
    ticker, other = tradable_market(sim), tradable_market(sim)
    here = [place_resting(token, ticker, price=p) for p in ("0.02", "0.03")]
    there = place_resting(token, other)
    result = gql(
        "mutation($m: String) { cancelAllOrders(marketId: $m) { id status } }", {"m": ticker}, token=token
    )
    assert sorted(int(o["id"]) for o in result["data"]["cancelAllOrders"]) == sorted(o.pk for o in here)
    for order in here:
        wait_for(lambda o=order: Order.objects.filter(pk=o.pk, status=Order.Status.CANCELED).first())
    assert Order.objects.get(pk=there.pk).status == Order.Status.RESTING
    assert {r.status for r in kit.exchange_orders(sim, trader.sim_user_id, ticker=ticker)} == {"canceled"}


def test_kill_switch_cancels_everything_and_halts(sim, trader, token, celery_worker):
    ticker = tradable_market(sim)
    order = place_resting(token, ticker)
    unconfirmed = gql("mutation { killSwitch(confirm: false) { halted } }", token=token)
    assert unconfirmed["errors"][0]["extensions"]["field"] == "confirm"
    assert not TraderProfile.objects.get(user=trader).halted
    result = gql("mutation { killSwitch(confirm: true) { halted reason orders { id } } }", token=token)
    assert result["data"]["killSwitch"]["halted"] is True
    assert [o["id"] for o in result["data"]["killSwitch"]["orders"]] == [str(order.pk)]
    wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.CANCELED).first())
    assert TraderProfile.objects.get(user=trader).halted
    # Halted: the next order is refused with the desk's reason, and nothing is created.
    refused = gql(
        PLACE, {"i": {"marketId": ticker, "side": "YES", "quantity": "1", "price": "0.02"}}, token=token
    )
    assert codes(refused) == ["TRADING_REFUSED"] and "halted" in refused["errors"][0]["message"]
    assert Order.objects.count() == 1


def test_fills_query_lists_the_traders_fills(sim, trader, token, celery_worker):
    ticker = tradable_market(sim)
    order = place_resting(token, ticker, quantity="3")
    kit.hit_bid(kit.counterparty(sim), ticker, D("2"))
    account: Any = trader.kalshi_account
    assert reconcile_account(account.pk, clients.client_for(account))[0] == 1
    result = gql(
        "query($m: String) { fills(marketId: $m) { orderId marketId side quantity price isTaker } }",
        {"m": ticker},
        token=token,
    )
    assert result["data"]["fills"] == [
        {
            "orderId": str(order.pk),
            "marketId": ticker,
            "side": "YES",
            "quantity": "2",
            "price": "0.02",
            "isTaker": False,
        }
    ]
    portfolio = gql(
        "{ portfolio { positions { marketId marketTitle quantity entryPrice realizedPnl } } }", token=token
    )["data"]["portfolio"]
    assert portfolio["positions"] == [
        {
            "marketId": ticker,
            "marketTitle": f"Market {ticker}",
            "quantity": "2",
            "entryPrice": "0.02",
            "realizedPnl": "0",
        }
    ]
    partly = gql(
        "query($m: String) { orders(marketId: $m) { status filledQuantity } }", {"m": ticker}, token=token
    )
    assert partly["data"]["orders"] == [{"status": "partially_filled", "filledQuantity": "2"}]
