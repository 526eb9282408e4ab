"""The API on the real server processes: daphne (HTTP and the Channels WebSocket, graphql-transport-ws), Redis,
a Celery worker and the simulator. Subscriptions follow an order placed through the API and its fill, and market
quotes published as the feed publishes them; the order shows up live in the desk's open-orders panel."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from markets import live
from markets.publish import publish
from tests.graphql.conftest import tradable_market
from tests.helpers import landed
from tests.trading import orderkit as kit
from tests.trading.test_submission import wait_for
from trading import clients
from trading.fills import reconcile_account
from trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

PLACE_ORDER = """
mutation PlaceOrder($input: OrderInput!) {
  placeOrder(input: $input) { id marketId side quantity price status }
}
"""


def http_gql(base: str, token: str, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql/",
        json={"query": document, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:500]
    return response.json()


class Socket:
    """A graphql-transport-ws client over a real WebSocket."""

    def __init__(self, base: str, token: str | None, headers: dict[str, str] | None = None) -> None:
        self._connection = connect(
            base.replace("http://", "ws://") + "/graphql/",
            subprotocols=["graphql-transport-ws"],
            open_timeout=10,
            additional_headers=headers,
        )
        self.ws = self._connection.__enter__()
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        self.ws.send(json.dumps({"type": "connection_init", "payload": payload}))

    def ack(self) -> None:
        assert self.next()["type"] == "connection_ack"

    def subscribe(self, id: str, document: str, variables: dict[str, Any] | None = None) -> None:
        message = {
            "id": id,
            "type": "subscribe",
            "payload": {"query": document, "variables": variables or {}},
        }
        self.ws.send(json.dumps(message))

    def next(self, timeout: float = 15) -> dict[str, Any]:
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message.get("type") == "ping":
                self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    def until(self, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.next(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(message)
            if predicate(message):
                return seen
        raise AssertionError(f"not seen in time: {seen}")

    def close(self) -> None:
        self._connection.__exit__(None, None, None)


def data(message: dict[str, Any], field: str) -> Any:
    return (
        (message.get("payload") or {}).get("data", {}).get(field) if message.get("type") == "next" else None
    )


def test_subscriptions_follow_an_order_and_its_fill(sim, trader, token, daphne_server, celery_worker):
    ticker = tradable_market(sim)
    socket = Socket(daphne_server, token)
    try:
        socket.ack()
        socket.subscribe("orders", "subscription { orderUpdates { id status filledQuantity } }")
        socket.subscribe(
            "fills",
            "subscription($m: String) { fills(marketId: $m) { orderId quantity price } }",
            {"m": ticker},
        )
        time.sleep(0.5)  # the subscriptions have joined the trader's group
        placed = http_gql(
            daphne_server,
            token,
            PLACE_ORDER,
            {"input": {"marketId": ticker, "side": "YES", "quantity": "3", "price": "0.02"}},
        )["data"]["placeOrder"]
        seen = socket.until(lambda m: (data(m, "orderUpdates") or {}).get("status") == "resting")
        updates = [data(m, "orderUpdates") for m in seen if data(m, "orderUpdates")]
        assert {u["id"] for u in updates} == {placed["id"]}

        order = Order.objects.get(pk=placed["id"])
        kit.hit_bid(kit.counterparty(sim), ticker, D("2"))
        account = trader.kalshi_account
        assert reconcile_account(account.pk, clients.client_for(account))[0] == 1
        # Both come, in either order: the fill, and the order now partially filled.
        fills: list[Any] = []
        statuses: list[str] = []

        def both(m: dict[str, Any]) -> bool:
            if data(m, "fills"):
                fills.append(data(m, "fills"))
            if data(m, "orderUpdates"):
                statuses.append(data(m, "orderUpdates")["status"])
            return bool(fills) and "partially_filled" in statuses

        socket.until(both)
        assert fills == [{"orderId": str(order.pk), "quantity": "2", "price": "0.02"}]
    finally:
        socket.close()


def test_market_ticker_relays_what_the_feed_publishes(sim, trader, token, daphne_server):
    ticker = tradable_market(sim)
    socket = Socket(daphne_server, token)
    try:
        socket.ack()
        socket.subscribe(
            "t",
            "subscription($ids: [String!]!) { marketTicker(marketIds: $ids) { marketId yesBid yesAsk } }",
            {"ids": [ticker]},
        )
        quote = {"yes_bid": "0.31", "yes_ask": "0.33", "no_bid": "0.67", "no_ask": "0.69"}
        deadline = time.monotonic() + 15
        tick = None
        while tick is None and time.monotonic() < deadline:
            # As the feed does (markets.publish): latest state stored, a signed frame on kw:md:<ticker>.
            publish(
                live.client(),
                ticker,
                {"ticker": ticker, "ts": time.time(), "row": "", "detail": ""},
                quote=quote,
                book=None,
                trades=[],
            )
            try:
                message = socket.next(timeout=1)
            except TimeoutError:
                continue
            tick = data(message, "marketTicker")
        assert tick == {"marketId": ticker, "yesBid": "0.31", "yesAsk": "0.33"}

        socket.subscribe("bad", 'subscription { marketTicker(marketIds: ["NOPE"]) { marketId } }')
        error = socket.until(lambda m: m.get("id") == "bad" and m.get("type") in ("error", "next"))
        payload = error[-1]["payload"]
        errors = payload if isinstance(payload, list) else payload["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    finally:
        socket.close()


def test_the_socket_refuses_a_caller_without_a_valid_token(trader, daphne_server):
    for token in (None, "kwt_wrong"):
        socket = Socket(daphne_server, token)
        with pytest.raises(ConnectionClosed) as closed:
            socket.next(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


@pytest.mark.browser
def test_an_api_order_shows_live_in_the_desks_open_orders_panel(
    sim, trader, token, daphne_server, celery_worker, page
):
    ticker = tradable_market(sim)
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(daphne_server))
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.locator("#orders-panel").wait_for(timeout=10000)
    # The page's socket is up (a locator: wait_for_function would eval, which the CSP refuses).
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    placed = http_gql(
        daphne_server,
        token,
        PLACE_ORDER,
        {"input": {"marketId": ticker, "side": "YES", "quantity": "3", "price": "0.02"}},
    )["data"]["placeOrder"]
    row = page.locator(f"#orders-panel #order-{placed['id']}")
    row.wait_for(timeout=15000)  # no reload: the panel re-read itself on the push
    row.locator(".badge").filter(has_text="resting").wait_for(timeout=15000)
    assert Order.objects.filter(pk=placed["id"]).count() == 1


def test_the_docs_example_places_watches_and_cancels(
    sim, trader, token, daphne_server, celery_worker, tmp_path
):
    from tests.graphql.test_docs import block

    ticker = tradable_market(sim)
    script = tmp_path / "example.py"
    script.write_text(block("example", "python"))
    run = subprocess.run(
        [sys.executable, str(script), daphne_server, token, ticker],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("placed") and "'status': 'sending'" in lines[0]
    assert any("'status': 'resting'" in line for line in lines)
    assert lines[-1].startswith("canceled") and ("'canceling'" in lines[-1] or "'canceled'" in lines[-1])
    order = Order.objects.get(user=trader)
    wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.CANCELED).first())
    assert [o.status for o in kit.exchange_orders(sim, trader.sim_user_id, ticker=ticker)] == ["canceled"]


def session_cookie(base: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as browser:
        login = browser.get("/login/").text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login)
        assert csrf
        response = browser.post(
            "/login/",
            data={
                "username": "alice",
                "password": "correct-horse-battery",
                "csrfmiddlewaretoken": csrf.group(1),
            },
        )
        assert response.status_code == 302
        return "; ".join(f"{k}={v}" for k, v in browser.cookies.items())


def test_the_session_counts_on_the_socket_only_from_this_sites_pages(trader, daphne_server):
    cookie = session_cookie(daphne_server)
    port = daphne_server.rsplit(":", 1)[1]
    page = Socket(daphne_server, None, {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"})
    try:
        page.ack()
        # Queries and mutations belong on HTTP: refused clearly on the socket.
        page.subscribe("q", "{ orders { id } }")
        refused = page.next()
        assert refused["payload"]["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    finally:
        page.close()
    # Another site's page cannot open it with the trader's cookie: refused at the handshake.
    with pytest.raises(InvalidStatus) as refused_handshake:
        Socket(daphne_server, None, {"Cookie": cookie, "Origin": "http://evil.example"})
    assert refused_handshake.value.response.status_code == 403


def test_concurrent_places_with_one_client_order_id_place_once(
    sim, trader, token, daphne_server, celery_worker
):
    ticker = tradable_market(sim)
    variables = {
        "input": {
            "marketId": ticker,
            "side": "YES",
            "quantity": "2",
            "price": "0.02",
            "clientOrderId": "burst-1",
        }
    }
    start = threading.Barrier(5)
    answers: list[dict[str, Any]] = []

    def send() -> None:
        start.wait()
        answers.append(http_gql(daphne_server, token, PLACE_ORDER, variables))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 5 and all("errors" not in a for a in answers), answers
    assert len({a["data"]["placeOrder"]["id"] for a in answers}) == 1
    order = wait_for(lambda: Order.objects.filter(user=trader, status=Order.Status.RESTING).first())
    assert Order.objects.filter(user=trader).count() == 1
    time.sleep(1)  # a second submission, were there one, would have reached the exchange by now
    assert len(kit.exchange_orders(sim, trader.sim_user_id, client_order_id=str(order.client_order_id))) == 1
    assert len(kit.exchange_orders(sim, trader.sim_user_id, ticker=ticker)) == 1
