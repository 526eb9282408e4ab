"""Fills reach us twice, out of order, before the create response and only through REST after a feed outage:
every path must end with each fill stored once (per account and fill id) and the order's count and status right.

The fills are real simulator fills (Bob trades against Alice's resting order over loopback HTTP); the stream
copies are the simulator's own `fill`/`user_order` frames parsed by our SDK, handed to `trading.fills` as the
feed would. Submission runs the real `submit_order` task body in this thread; follow-up tasks it would queue
are collected instead of sent to the broker.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from decimal import Decimal as D
from typing import Any

import pytest

from kalshiweb.kalshi.stream import KalshiStream
from tests.factories import make_user
from tests.helpers import wait_for_upstream_subscriber, wait_until
from tests.trading import orderkit as kit
from tests.trading.test_order_faults import PrivateFeed
from trading import clients, lifecycle, private_feed, tasks
from trading.fills import apply_user_order, reconcile_account, record_fill
from trading.models import Fill, Order, TraderProfile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Tasks the code under test queues, recorded instead of sent to Redis."""
    sent: list[tuple[str, tuple[Any, ...]]] = []
    for task in (tasks.submit_order, tasks.reconcile_order, tasks.cancel_order):
        monkeypatch.setattr(
            task,
            "apply_async",
            lambda args=(), kwargs=None, _n=task.name, **opts: sent.append((_n, tuple(args))),
        )
    yield sent
    clients.forget_clients()


@pytest.fixture
def alice(sim: Any, sim_settings: Any, queued: Any) -> Any:
    account, sim_user = kit.funded_account(sim, "alice")
    user = make_user("alice")
    TraderProfile.objects.create(user=user, account=account)
    user.account, user.sim_user_id = account, sim_user
    return user


@pytest.fixture
def bob(sim: Any) -> Any:
    trader = kit.counterparty(sim)
    yield trader
    trader.close()


def resting_order(sim: Any, alice: Any, count: D = D("3")) -> tuple[Order, str]:
    ticker = kit.fresh_market(sim)
    order = kit.make_order(alice, alice.account, ticker, count=count)
    assert tasks.submit_order.run(order.pk) == Order.Status.RESTING
    order.refresh_from_db()
    return order, ticker


def fills_of(order: Order) -> list[str]:
    return sorted(
        Fill.objects.filter(account=order.account, exchange_order_id=order.exchange_order_id).values_list(
            "fill_id", flat=True
        )
    )


def assert_matches_exchange(sim: Any, alice: Any, order: Order) -> None:
    order.refresh_from_db()
    (remote,) = kit.exchange_orders(sim, alice.sim_user_id, client_order_id=str(order.client_order_id))
    assert order.exchange_order_id == remote.order_id
    assert order.status == kit.local_status(remote.status)
    assert order.fill_count == remote.fill_count
    assert order.remaining_count == remote.remaining_count
    expected = sorted(f.fill_id for f in kit.exchange_fills(sim, alice.sim_user_id, remote.order_id))
    assert fills_of(order) == expected
    assert set(Fill.objects.filter(fill_id__in=expected).values_list("order_id", flat=True)) <= {order.pk}
    assert not Fill.objects.filter(fill_id__in=expected, order__isnull=True).exists()


def test_a_fill_delivered_twice_by_each_path_is_stored_once(sim, alice, bob):
    order, ticker = resting_order(sim, alice)
    kit.hit_bid(bob, ticker, D("1"))
    (fill,) = kit.exchange_fills(sim, alice.sim_user_id, order.exchange_order_id)

    assert record_fill(alice.account, kit.stream_fill(sim, fill), source="fill stream") is not None
    assert record_fill(alice.account, kit.stream_fill(sim, fill), source="fill stream") is None
    assert record_fill(alice.account, kit.rest_fill(fill), source="fills reconcile") is None
    assert reconcile_account(alice.account.pk, clients.client_for(alice.account))[0] == 0

    assert Fill.objects.filter(account=alice.account, fill_id=fill.fill_id).count() == 1
    assert_matches_exchange(sim, alice, order)
    assert order.fill_count == D("1") and order.status == Order.Status.RESTING


def test_the_same_fill_arriving_concurrently_from_four_threads_is_stored_once(sim, alice, bob):
    from django.db import connection

    order, ticker = resting_order(sim, alice)
    kit.hit_bid(bob, ticker, D("2"))
    (fill,) = kit.exchange_fills(sim, alice.sim_user_id, order.exchange_order_id)
    copies = [
        kit.stream_fill(sim, fill),
        kit.rest_fill(fill),
        kit.stream_fill(sim, fill, with_client_order_id=False),
        kit.rest_fill(fill),
    ]
    barrier = threading.Barrier(len(copies))
    stored: list[Any] = []
    errors: list[BaseException] = []

    def deliver(copy: Any) -> None:
        try:
            barrier.wait()
            stored.append(record_fill(alice.account, copy, source="race"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(c,)) for c in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    assert sum(1 for s in stored if s is not None) == 1
    assert_matches_exchange(sim, alice, order)
    assert order.fill_count == D("2")


def test_fills_out_of_order_and_a_stale_order_update_end_executed(sim, alice, bob):
    order, ticker = resting_order(sim, alice)
    for _ in range(3):
        kit.hit_bid(bob, ticker, D("1"))
    first, second, third = kit.exchange_fills(sim, alice.sim_user_id, order.exchange_order_id)
    executed = kit.user_order_msg(sim, order.exchange_order_id)
    assert executed.status == "executed"

    # The newest news first: the last fill, then the order update saying it is done, then older fills.
    record_fill(alice.account, kit.stream_fill(sim, third), source="fill stream")
    apply_user_order(alice.account, executed)
    record_fill(alice.account, kit.rest_fill(first), source="fills reconcile")
    record_fill(alice.account, kit.stream_fill(sim, second), source="fill stream")
    record_fill(alice.account, kit.stream_fill(sim, first), source="fill stream")

    assert_matches_exchange(sim, alice, order)
    assert order.status == Order.Status.EXECUTED
    assert order.fill_count == D("3") and order.remaining_count == 0


def test_an_old_resting_update_after_the_fills_does_not_reopen_the_order(sim, alice, bob):
    order, ticker = resting_order(sim, alice, count=D("2"))
    kit.hit_bid(bob, ticker, D("1"))
    partly = kit.user_order_msg(sim, order.exchange_order_id)  # resting, 1 of 2 filled
    kit.hit_bid(bob, ticker, D("1"))
    for fill in kit.exchange_fills(sim, alice.sim_user_id, order.exchange_order_id):
        record_fill(alice.account, kit.stream_fill(sim, fill), source="fill stream")

    apply_user_order(alice.account, partly)

    assert_matches_exchange(sim, alice, order)
    assert order.status == Order.Status.EXECUTED


class FillBeforeAnswer:
    """Alice's client, except that between the exchange taking the order and our task reading the answer,
    Bob trades against it and the fill is delivered (the stream often beats the HTTP response)."""

    def __init__(self, real: Any, deliver: Any) -> None:
        self.real, self.deliver = real, deliver

    def submit_order(self, request: Any) -> Any:
        result = self.real.submit_order(request)
        self.deliver(result)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize(
    ("filled", "with_client_order_id", "status"),
    [
        (D("1"), True, Order.Status.RESTING),
        (D("3"), True, Order.Status.EXECUTED),
        (D("1"), False, Order.Status.RESTING),  # a REST copy: no client_order_id, stored as an orphan first
        (D("3"), False, Order.Status.EXECUTED),
    ],
)
def test_a_fill_before_the_create_response_is_counted_once(
    sim, alice, bob, monkeypatch, filled, with_client_order_id, status
):
    ticker = kit.fresh_market(sim)
    order = kit.make_order(alice, alice.account, ticker)

    def deliver(result: Any) -> None:
        kit.hit_bid(bob, ticker, filled)
        for fill in kit.exchange_fills(sim, alice.sim_user_id, result.order_id):
            copy = kit.stream_fill(sim, fill) if with_client_order_id else kit.rest_fill(fill)
            record_fill(alice.account, copy, source="early")

    real_client_for = tasks.client_for
    monkeypatch.setattr(
        tasks, "client_for", lambda account: FillBeforeAnswer(real_client_for(account), deliver)
    )

    tasks.submit_order.run(order.pk)

    assert_matches_exchange(sim, alice, order)
    assert order.status == status
    assert order.fill_count == filled


def test_fills_missed_during_a_feed_outage_are_recovered_from_rest(sim, alice, bob):
    order, ticker = resting_order(sim, alice)
    kit.hit_bid(bob, ticker, D("1"))
    kit.hit_bid(bob, ticker, D("1"))  # the feed is down: nothing is delivered

    new, changed = reconcile_account(alice.account.pk, clients.client_for(alice.account))

    assert (new, changed) == (2, 0)  # the order's state comes from its own fills
    assert_matches_exchange(sim, alice, order)
    assert order.status == Order.Status.RESTING and order.fill_count == D("2")

    # The feed comes back and replays one of them; a later outage hides the last fill.
    first = kit.exchange_fills(sim, alice.sim_user_id, order.exchange_order_id)[0]
    assert record_fill(alice.account, kit.stream_fill(sim, first), source="fill stream") is None
    kit.hit_bid(bob, ticker, D("1"))
    assert reconcile_account(alice.account.pk, clients.client_for(alice.account))[0] == 1
    assert reconcile_account(alice.account.pk, clients.client_for(alice.account)) == (0, 0)

    assert_matches_exchange(sim, alice, order)
    assert order.status == Order.Status.EXECUTED and order.fill_count == D("3")


class CountingClient:
    """The account's real client, counting the calls made through it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def test_a_reconnect_reads_the_resting_orders_in_one_list_not_one_request_each(sim, alice, bob):
    """After every reconnect the feed brings our resting orders level with the exchange. One GET per order made
    each reconnect cost as many requests as the desk has orders resting (against Basic's 20 reads/s), and the
    10,000-trial fault run slow down as its orders piled up: one list of the resting orders, and a GET only
    for an order that is no longer in it."""
    ticker = kit.fresh_market(sim)
    orders = []
    for _ in range(12):
        order = kit.make_order(alice, alice.account, ticker, count=D("2"))
        assert tasks.submit_order.run(order.pk) == Order.Status.RESTING
        orders.append(order)
    # While the feed is down: Bob sells one into the oldest bid, and a trader cancels another on Kalshi's site.
    kit.hit_bid(bob, ticker, D("1"))
    gone = orders[5]
    gone.refresh_from_db()
    clients.client_for(alice.account).cancel_order(gone.exchange_order_id)
    client = CountingClient(clients.client_for(alice.account))

    new, changed = reconcile_account(alice.account.pk, client)

    assert (new, changed) == (1, 1)
    assert client.calls["iter_orders"] == 1
    assert client.calls["get_order"] <= 1, client.calls
    for order in orders:
        assert_matches_exchange(sim, alice, order)
    gone.refresh_from_db()
    orders[0].refresh_from_db()
    assert gone.status == Order.Status.CANCELED
    assert orders[0].status == Order.Status.RESTING and orders[0].fill_count == D("1")


def test_a_fill_recovered_before_we_learn_the_exchange_id_is_attached_to_its_order(sim, alice, bob):
    """A killed worker: the exchange took the order, our row still says submitting. The feed was down when
    Bob traded, so the fill comes from REST (no client_order_id) before anything tells us the order id;
    then the `user_orders` update for the order arrives."""
    ticker = kit.fresh_market(sim)
    order = kit.make_order(alice, alice.account, ticker)
    assert order.mark_submitting()
    client = clients.client_for(alice.account)
    result = client.submit_order(kit_request(order))
    kit.hit_bid(bob, ticker, D("1"))

    assert reconcile_account(alice.account.pk, client)[0] == 1
    apply_user_order(alice.account, kit.user_order_msg(sim, result.order_id))

    assert_matches_exchange(sim, alice, order)
    assert Fill.objects.get(exchange_order_id=result.order_id).order_id == order.pk
    assert order.fill_count == D("1")


def test_an_order_filled_while_we_did_not_know_its_id_gets_its_id_when_the_exchange_names_it(sim, alice, bob):
    """The same killed worker, but Bob fills the whole order while the feed is down: the REST catch-up stores
    the fills unattached (REST fills carry no client_order_id). When the periodic sweep finds the order on the
    exchange, linking those fills makes it EXECUTED, a final state; the exchange id must be recorded all the
    same (found by the randomized fault run with the feed dropped during fills: status right, id None)."""
    ticker = kit.fresh_market(sim)
    order = kit.make_order(alice, alice.account, ticker, count=D("2"))
    assert order.mark_submitting()
    client = clients.client_for(alice.account)
    result = client.submit_order(kit_request(order))
    kit.hit_bid(bob, ticker, D("2"))

    assert reconcile_account(alice.account.pk, client)[0] == 1
    assert Fill.objects.get(exchange_order_id=result.order_id).order_id is None
    lifecycle.apply_exchange_order(order, client.get_order(result.order_id), "reconcile")

    assert_matches_exchange(sim, alice, order)
    assert order.status == Order.Status.EXECUTED


def test_a_fill_made_while_the_feed_restores_its_subscription_is_not_lost(sim, alice, bob, monkeypatch):
    """After a reconnect the feed catches up over REST. A fill made after that catch-up but before the stream has
    its subscription back goes out on no socket, so the catch-up must come once the subscription is restored
    (found by the randomized fault run, feed drops during fills: 2 trials in about 400). Here the exchange is
    slow to restore the subscription, and the counterparty trades just after the catch-up after the reconnect."""
    order, ticker = resting_order(sim, alice)
    traded = threading.Event()
    catch_ups: list[Any] = []
    real_reconcile = private_feed._reconcile

    def reconcile_then_trade(*args: Any) -> Any:
        result = real_reconcile(*args)
        catch_ups.append(result)
        if len(catch_ups) == 2:  # the catch-up that follows the reconnect
            kit.hit_bid(bob, ticker, D("1"))
            traded.set()
        return result

    real_send = KalshiStream._send_subscribe
    sends: list[Any] = []

    async def slow_restore(self: KalshiStream, handle: Any) -> None:
        sends.append(handle)
        if len(sends) > 1:  # the restore after the reconnect, not the first subscribe
            await asyncio.to_thread(traded.wait, 1.0)
        await real_send(self, handle)

    monkeypatch.setattr(private_feed, "_reconcile", reconcile_then_trade)
    monkeypatch.setattr(KalshiStream, "_send_subscribe", slow_restore)
    feed = PrivateFeed()
    feed.start()
    try:
        wait_until(lambda: len(catch_ups) == 1, 10, "the first catch-up")
        assert sim.faults.drop_connections() >= 1
        wait_until(traded.is_set, 10, "the trade after the catch-up that follows the reconnect")
        wait_until(lambda: Fill.objects.filter(order=order).exists(), 5, "the fill, from the socket")
    finally:
        feed.close()
    assert_matches_exchange(sim, alice, order)


def kit_request(order: Order) -> Any:
    from trading.lifecycle import order_request

    return order_request(order)


def test_a_private_subscription_the_exchange_refuses_at_first_is_made_on_a_fresh_connection(sim, alice, bob):
    """The feed's first subscribe to the private channels is answered with a retryable error: the account's
    stream stayed connected and unsubscribed, and no fill reached us until the connection happened to drop.
    Now the feed starts over on a fresh connection, subscribes, catches up and hears the fill."""
    order, ticker = resting_order(sim, alice)
    sim.faults.fail_commands(1)
    feed = PrivateFeed()
    feed.start()
    try:
        wait_for_upstream_subscriber(sim, "fill", timeout=10)
        kit.hit_bid(bob, ticker, D("1"))
        wait_until(lambda: Fill.objects.filter(order=order).exists(), 10, "the fill, from the socket")
    finally:
        sim.faults.reset()
        feed.close()
    assert_matches_exchange(sim, alice, order)


def test_a_catch_up_that_fails_is_tried_again_without_waiting_for_another_reconnect(
    sim, alice, bob, monkeypatch
):
    """After a reconnect the feed reads the fills it missed over REST; when that read failed (the exchange's REST
    side down at that moment) the fills were recovered only at the next reconnect or gap, and meanwhile the
    trader's order and position stayed short of them. Here the reconnect's catch-up fails (every attempt the
    client makes at reading the fills): the fill must still arrive, with no other reconnect."""
    order, ticker = resting_order(sim, alice)
    catch_ups: list[str] = []
    real_reconcile = private_feed._reconcile

    def counted(*args: Any) -> Any:
        try:
            result = real_reconcile(*args)
        except Exception:
            catch_ups.append("failed")
            raise
        catch_ups.append("done")
        return result

    monkeypatch.setattr(private_feed, "_reconcile", counted)
    feed = PrivateFeed()
    feed.start()
    try:
        wait_until(lambda: catch_ups == ["done"], 10, "the first catch-up")
        sim.faults.silence(True)  # the fill's socket message is lost, as in a dropped connection
        kit.hit_bid(bob, ticker, D("1"))
        sim.faults.fail_next(4, "500", path_prefix="/portfolio/fills")  # every attempt of one catch-up
        assert sim.faults.drop_connections() >= 1
        sim.faults.silence(False)
        wait_until(lambda: "failed" in catch_ups, 20, "the reconnect's catch-up, failing")
        wait_until(lambda: Fill.objects.filter(order=order).exists(), 20, "the fill, from a later catch-up")
    finally:
        sim.faults.reset()
        feed.close()
    assert catch_ups[:2] == ["done", "failed"]
    assert_matches_exchange(sim, alice, order)
