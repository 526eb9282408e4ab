"""Who may do what: tokens (unknown, revoked, expired, read-only), another trader's order ids, a login with no
trading account, the session with its CSRF token, the per-token rate limit, and the depth and cost limits."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kalshiweb.graphql import limits
from kalshiweb.models import ApiToken
from tests.factories import make_user
from tests.graphql.conftest import codes, gql, post, tradable_market
from tests.trading.orderkit import make_order
from trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

PLACE = "mutation($i: OrderInput!) { placeOrder(input: $i) { id } }"


def order_input(ticker: str) -> dict[str, object]:
    return {"i": {"marketId": ticker, "side": "YES", "quantity": "1", "price": "0.02"}}


def test_without_valid_credentials_nothing_runs(trader):
    revoked, raw_revoked = ApiToken.issue(trader, "old")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    _, raw_expired = ApiToken.issue(trader, "short", expires_at=timezone.now() - timedelta(seconds=1))
    for headers in (
        {},
        {"Authorization": "Basic YWxpY2U6eA=="},
        {"Authorization": "Bearer kwt_not-a-token"},
        {"Authorization": f"Bearer {raw_revoked}"},
        {"Authorization": f"Bearer {raw_expired}"},
        {"Authorization": "Bearer " + "é" * 50},
    ):
        response = Client().post(
            "/graphql/",
            data=json.dumps({"query": "{ orders { id } }"}),
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 401, headers
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "UNAUTHENTICATED", "retryable": False}
    # An inactive user's tokens stop working too.
    _, raw = ApiToken.issue(trader, "live")
    assert "errors" not in gql("{ orders { id } }", token=raw)
    trader.is_active = False
    trader.save()
    assert post(Client(), "{ orders { id } }", token=raw).status_code == 401


def test_a_read_only_token_reads_but_cannot_trade(sim, trader, token, read_only_token):
    ticker = tradable_market(sim)
    order = make_order(trader, trader.kalshi_account, ticker)
    assert gql("{ orders { id } }", token=read_only_token)["data"]["orders"] == [{"id": str(order.pk)}]
    for document, variables in (
        (PLACE, order_input(ticker)),
        ("mutation($id: ID!) { cancelOrder(id: $id) { id } }", {"id": order.pk}),
        ('mutation($id: ID!) { amendOrder(id: $id, price: "0.03") { id } }', {"id": order.pk}),
        ("mutation { cancelAllOrders { id } }", None),
        ("mutation { killSwitch(confirm: true) { halted } }", None),
    ):
        result = gql(document, variables, token=read_only_token)
        assert codes(result) == ["FORBIDDEN"], result
    assert Order.objects.count() == 1 and Order.objects.get().status == Order.Status.NEW
    assert not Order.objects.get().cancel_requested


def test_another_traders_order_is_not_found(sim, trader, token):
    ticker = tradable_market(sim)
    mine = make_order(trader, trader.kalshi_account, ticker)
    bob = make_user("bob")
    from trading.models import TraderProfile

    TraderProfile.objects.create(user=bob, account=trader.kalshi_account)  # the same Kalshi account, even
    bobs = ApiToken.issue(bob, "bob's script")[1]
    missing = gql("mutation { cancelOrder(id: 999999) { id } }", token=bobs)
    for document in (
        "mutation($id: ID!) { cancelOrder(id: $id) { id } }",
        'mutation($id: ID!) { amendOrder(id: $id, price: "0.03") { id } }',
    ):
        result = gql(document, {"id": mine.pk}, token=bobs)
        assert result["errors"][0]["extensions"] == missing["errors"][0]["extensions"]  # the same as no order
        assert result["errors"][0]["message"] == missing["errors"][0]["message"]
    assert (
        gql("query($id: ID!) { order(id: $id) { id } }", {"id": mine.pk}, token=bobs)["data"]["order"] is None
    )
    assert gql("{ orders { id } }", token=bobs)["data"]["orders"] == []
    assert gql("mutation { cancelAllOrders { id } }", token=bobs)["data"]["cancelAllOrders"] == []
    assert gql("mutation($id: ID!) { cancelOrder(id: $id) { id } }", {"id": "x'; --"}, token=bobs)["errors"]
    mine.refresh_from_db()
    assert mine.status == Order.Status.NEW and not mine.cancel_requested
    # Alice sees her own.
    assert gql("query($id: ID!) { order(id: $id) { id } }", {"id": mine.pk}, token=token)["data"]["order"]


def test_a_login_without_a_trading_account_cannot_trade(sim, transactional_db):
    viewer = make_user("viewer")
    raw = ApiToken.issue(viewer, "viewer")[1]
    ticker = tradable_market(sim)
    result = gql(PLACE, order_input(ticker), token=raw)
    assert codes(result) == ["TRADING_REFUSED"] and "view-only" in result["errors"][0]["message"]
    assert gql("{ portfolio { isStale } }", token=raw)["data"]["portfolio"] is None
    assert Order.objects.count() == 0


def test_the_session_needs_its_csrf_token(sim, trader):
    ticker = tradable_market(sim)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(trader)
    refused = post(browser, "{ orders { id } }")
    assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    browser.get("/account/api-tokens/")  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(
        "/graphql/",
        data=json.dumps({"query": PLACE, "variables": order_input(ticker)}),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 200 and "errors" not in response.json(), response.content
    assert Order.objects.get().user_id == trader.pk


def test_the_rate_limit_is_per_token(trader, settings):
    settings.KALSHIWEB_API_RATE_PER_MINUTE = 3
    first, second = ApiToken.issue(trader, "a")[1], ApiToken.issue(trader, "b")[1]
    for _ in range(3):
        assert post(Client(), "{ orders { id } }", token=first).status_code == 200
    limited = post(Client(), "{ orders { id } }", token=first)
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryable": True}
    assert post(Client(), "{ orders { id } }", token=second).status_code == 200


def test_depth_and_cost_limits_refuse_before_running(trader, token):
    expensive = " ".join(
        f"m{i}: markets(limit: 200) {{ id quote {{ yesBid yesAsk noBid noAsk lastPrice }} "
        "book { bids { price size total } asks { price size total } } }"
        for i in range(3)
    )
    result = gql("{ " + expensive + " }", token=token)
    assert codes(result) == ["BAD_REQUEST"] and "costs about" in result["errors"][0]["message"]
    cheap = gql("{ markets(limit: 5) { id book { bids { price } } } }", token=token)
    assert "errors" not in cheap
    nested = "name"
    for _ in range(limits.MAX_DEPTH):
        nested = f"ofType {{ {nested} }}"
    deep = gql(f'{{ __type(name: "Order") {{ fields {{ type {{ {nested} }} }} }} }}', token=token)
    assert codes(deep) == ["BAD_REQUEST"] and "levels deep" in deep["errors"][0]["message"]
    # A tool's introspection (types, fields, their types three wrappers deep) is allowed.
    shallow = "{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }"
    assert "errors" not in gql(shallow, token=token)
    fan_out = (
        "mutation { "
        + " ".join(f"c{i}: cancelAllOrders {{ id }}" for i in range(limits.MAX_MUTATIONS + 1))
        + " }"
    )
    assert codes(gql(fan_out, token=token)) == ["BAD_REQUEST"]
    many = "{ " + " ".join(f"a{i}: orders(limit: 1) {{ id }}" for i in range(limits.MAX_ALIASES + 1)) + " }"
    assert codes(gql(many, token=token)) == ["BAD_REQUEST"]


def test_malformed_documents_get_structured_errors(trader, token):
    for document in (
        "{ orders { id ",
        "{ nope }",
        "{ orders(limit: 0) { id } }",
        '{ orders(status: "lost") { id } }',
    ):
        result = gql(document, token=token)
        assert result["errors"], document
        assert all(e["extensions"]["code"] in ("BAD_REQUEST", "BAD_USER_INPUT") for e in result["errors"])
    over_http = gql("subscription { fills { id } }", token=token)
    assert codes(over_http) == ["BAD_REQUEST"] and "WebSocket" in over_http["errors"][0]["message"]
    bad_limit = gql("{ orders(limit: 0) { id } }", token=token)
    assert bad_limit["errors"][0]["extensions"]["field"] == "limit"
    response = Client().post(
        "/graphql/",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
