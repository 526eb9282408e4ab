"""Issue #15 (history), queue positions: each resting order shows the contracts ahead of it, refreshed with one
batched exchange call per account (a real Celery worker, the simulator over loopback HTTP), and it changes
as the orders ahead fill. A trader sees only their own orders' positions."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal as D

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tests.portfolio.helpers import add_trader
from tests.trading.orderkit import counterparty, fresh_market, make_order
from trading import queue_positions
from trading.clients import forget_clients
from trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clean_queue_keys(settings):
    """Stored positions and refresh locks are per account id, and ids are reused between tests."""
    import redis

    redis_client = redis.Redis.from_url(settings.REDIS_URL)
    for key in redis_client.scan_iter("kw:queue:*"):
        redis_client.delete(key)
    yield
    for key in redis_client.scan_iter("kw:queue:*"):
        redis_client.delete(key)


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def resting_order(sim, trader, ticker: str, count: str, price: str) -> Order:
    """An order the app placed that now rests on the exchange (its row RESTING with the exchange id)."""
    coid = str(uuid.uuid4())
    placed = sim.call(
        sim.exchange.create_order,
        trader.sim_user_id,
        ticker=ticker,
        side="bid",
        count=D(count),
        price=D(price),
        time_in_force="good_till_canceled",
        client_order_id=coid,
    )
    row = make_order(trader, trader.kalshi_account, ticker, count=D(count), price=D(price))
    Order.objects.filter(pk=row.pk).update(
        client_order_id=coid, exchange_order_id=placed.order_id, status=Order.Status.RESTING
    )
    row.refresh_from_db()
    return row


def poll_cells(client) -> str:
    return client.get("/orders/queue/", headers={"HX-Request": "true"}).content.decode()


@pytest.fixture
def book(sim, trader):
    ticker = fresh_market(sim)
    bob, carol = counterparty(sim), counterparty(sim)
    assert bob.order(ticker, "bid", "4", "0.2000").status_code == 201
    assert bob.order(ticker, "bid", "7", "0.2500").status_code == 201  # a better price: not in our queue
    mine = resting_order(sim, trader, ticker, "2", "0.20")
    yield ticker, mine, carol
    bob.close()
    carol.close()
    forget_clients()


def test_queue_position_is_shown_and_changes_as_the_orders_ahead_fill(book, trader, client, celery_worker):
    ticker, mine, carol = book
    client.force_login(trader)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{trader.pk}", channel)

    cell = f'id="queue-{mine.pk}"'
    html = wait_for(lambda: (h := poll_cells(client)) and "4 ahead" in h and h)
    assert cell in html and 'hx-swap-oob="true"' in html
    pushed = async_to_sync(layer.receive)(channel)  # the refresh also pushed it to the live pages
    assert pushed["type"] == "user.update" and cell in pushed["html"] and "4 ahead" in pushed["html"]
    assert "4 ahead" in client.get("/orders/").content.decode()  # the open-orders row shows it too

    # Carol sells 10: 7 at 0.25 and 3 of the 4 ahead of us at 0.20.
    assert carol.order(ticker, "ask", "10", "0.2000", time_in_force="immediate_or_cancel").status_code == 201
    html = wait_for(lambda: (h := poll_cells(client)) and "1 ahead" in h and h)
    assert cell in html
    assert queue_positions.by_level(trader, ticker) == {("bid", D("0.2000")): D("1.00")}


def test_one_exchange_call_per_account_however_many_tabs_poll(book, trader, client, monkeypatch):
    from trading import queue_views

    queued: list[int] = []
    monkeypatch.setattr(queue_views.refresh_queue_positions, "delay", queued.append)
    client.force_login(trader)
    for _ in range(5):
        poll_cells(client)
    assert queued == [trader.kalshi_account.pk]


def test_a_trader_never_sees_another_traders_queue_positions(book, trader, client, sim):
    _ticker, mine, _carol = book
    queue_positions.fetch(trader.kalshi_account.pk, _client(trader))
    assert queue_positions.ahead(mine) == D("4.00")
    other = add_trader("bob-desk", trader.kalshi_account)
    client.force_login(other)
    assert f"queue-{mine.pk}" not in poll_cells(client)
    assert f"queue-{mine.pk}" not in client.get("/orders/").content.decode()


def _client(trader):
    from trading.clients import client_for

    return client_for(trader.kalshi_account)
