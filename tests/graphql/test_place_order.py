"""The issue's two documents, sent verbatim with a token, against the real simulator, Redis and a real Celery
worker: a portfolio, and a new order that reaches the simulator exactly once, with its audit trail."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.graphql.conftest import codes, gql, tradable_market
from tests.trading.orderkit import exchange_orders
from tests.trading.test_submission import wait_for
from trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

# Verbatim from issue #17.
PLACE_ORDER = """
mutation PlaceOrder($input: OrderInput!) {
  placeOrder(input: $input) { id marketId side quantity price status }
}
"""

GET_PORTFOLIO = """
query GetPortfolio {
  portfolio {
    totalValue
    positions { marketId marketTitle quantity entryPrice currentPrice unrealizedPnl }
    isStale
    lastUpdated
  }
}
"""


def test_the_issues_documents_place_one_order_and_read_the_portfolio(sim, trader, token, celery_worker):
    ticker = tradable_market(sim)
    variables = {"input": {"marketId": ticker, "side": "YES", "quantity": "3", "price": "0.42"}}
    result = gql(PLACE_ORDER, variables, token=token)
    assert "errors" not in result, result
    placed = result["data"]["placeOrder"]
    assert placed["marketId"] == ticker and placed["side"] == "YES"
    assert placed["quantity"] == "3" and placed["price"] == "0.42"
    assert placed["status"] == "sending"  # at once, before the worker sent it

    order = wait_for(lambda: Order.objects.filter(pk=placed["id"], status=Order.Status.RESTING).first())
    assert order.user_id == trader.pk and order.price == D("0.42") and order.count == D("3")
    on_exchange = exchange_orders(sim, trader.sim_user_id, client_order_id=str(order.client_order_id))
    assert len(on_exchange) == 1
    assert list(order.events.values_list("kind", flat=True))[:3] == ["created", "submitting", "acknowledged"]
    assert order.events.first().actor == "alice"

    portfolio = gql(GET_PORTFOLIO, token=token)
    assert "errors" not in portfolio, portfolio
    data = portfolio["data"]["portfolio"]
    assert set(data) == {"totalValue", "positions", "isStale", "lastUpdated"}
    assert isinstance(data["isStale"], bool) and data["positions"] == []

    # The order is among the trader's orders, newest first, with the desk's word for its state.
    listed = gql(
        "query($m: String) { orders(marketId: $m) { id status filledQuantity remainingQuantity } }",
        {"m": ticker},
        token=token,
    )["data"]["orders"]
    assert listed == [
        {"id": placed["id"], "status": "resting", "filledQuantity": "0", "remainingQuantity": "3"}
    ]


def test_the_same_client_order_id_twice_places_once(sim, trader, token, celery_worker):
    ticker = tradable_market(sim)
    variables = {
        "input": {"marketId": ticker, "side": "NO", "quantity": 2, "price": 0.3, "clientOrderId": "my-1"}
    }
    first = gql(PLACE_ORDER, variables, token=token)["data"]["placeOrder"]
    second = gql(PLACE_ORDER, variables, token=token)["data"]["placeOrder"]
    assert first["id"] == second["id"] and first["price"] == "0.3"  # a number input reads as its decimal text
    order = wait_for(lambda: Order.objects.filter(pk=first["id"], status=Order.Status.RESTING).first())
    assert Order.objects.filter(user=trader).count() == 1
    assert len(exchange_orders(sim, trader.sim_user_id, ticker=ticker)) == 1
    assert order.events.filter(kind="created").count() == 1


def test_bad_input_is_refused_field_by_field_and_creates_nothing(sim, trader, token):
    ticker = tradable_market(sim)
    cases = [
        ({"marketId": ticker, "side": "YES", "quantity": "0", "price": "0.42"}, "BAD_USER_INPUT", "quantity"),
        ({"marketId": ticker, "side": "YES", "quantity": "1", "price": "1.5"}, "BAD_USER_INPUT", "price"),
        ({"marketId": ticker, "side": "YES", "quantity": "1", "price": "0.425"}, "BAD_USER_INPUT", "price"),
        (
            {"marketId": "NO-SUCH-MARKET", "side": "YES", "quantity": "1", "price": "0.4"},
            "NOT_FOUND",
            "marketId",
        ),
        (
            {"marketId": ticker, "side": "YES", "quantity": "1", "price": "0.4", "timeInForce": "GTT"},
            "BAD_USER_INPUT",
            "expiresAt",
        ),
    ]
    for order_input, code, field in cases:
        result = gql(PLACE_ORDER, {"input": order_input}, token=token)
        assert result["data"] is None, result
        error = result["errors"][0]
        assert error["extensions"]["code"] == code, result
        assert error["extensions"]["field"] == field, result
        assert error["extensions"]["retryable"] is False
        assert error["message"]
    # Not even a number: GraphQL's own variable check, still structured.
    for bad in ("abc", "NaN", "1e3", "١٢", True):
        result = gql(
            PLACE_ORDER,
            {"input": {"marketId": ticker, "side": "YES", "quantity": bad, "price": "0.4"}},
            token=token,
        )
        assert codes(result) == ["BAD_REQUEST"], result
    result = gql(
        PLACE_ORDER,
        {"input": {"marketId": ticker, "side": "MAYBE", "quantity": "1", "price": "0.4"}},
        token=token,
    )
    assert codes(result) == ["BAD_REQUEST"]
    assert Order.objects.count() == 0


def test_several_bad_fields_each_get_an_error(sim, trader, token):
    ticker = tradable_market(sim)
    order_input = {"marketId": ticker, "side": "YES", "quantity": "0", "price": "1.5"}
    result = gql(PLACE_ORDER, {"input": order_input}, token=token)
    assert sorted(e["extensions"]["field"] for e in result["errors"]) == ["price", "quantity"]
    assert Order.objects.count() == 0


def test_every_ticket_option_reaches_the_order(sim, trader, token):
    from datetime import UTC, datetime, timedelta

    ticker = tradable_market(sim)
    expires = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    order_input = {
        "marketId": ticker,
        "side": "NO",
        "action": "BUY",
        "quantity": "1.5",
        "price": "0.37",
        "timeInForce": "GTT",
        "expiresAt": expires.isoformat(),
        "postOnly": True,
    }
    document = "mutation($i: OrderInput!) { placeOrder(input: $i) { id side action quantity price timeInForce postOnly expiresAt status } }"
    placed = gql(document, {"i": order_input}, token=token)["data"]["placeOrder"]
    assert placed["side"] == "NO" and placed["action"] == "BUY" and placed["quantity"] == "1.5"
    assert placed["price"] == "0.37" and placed["timeInForce"] == "GTT" and placed["postOnly"] is True
    order = Order.objects.get(pk=placed["id"])
    assert order.expiration_time == expires and order.post_only and order.time_in_force == "gtt"
    assert order.outcome == "no" and order.book_side == "ask" and order.yes_price == D("0.63")
    # Post-only with IOC: the ticket's own rule, on its field.
    refused = gql(document, {"i": {**order_input, "timeInForce": "IOC", "expiresAt": None}}, token=token)
    assert refused["errors"][0]["extensions"]["field"] == "postOnly"
    assert Order.objects.count() == 1
