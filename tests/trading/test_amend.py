"""Amending a resting order (new limit and/or size): through the view, by a real Celery worker, against the
simulator over loopback HTTP — once, under a lost answer, and with the exchange's refusal shown."""

from __future__ import annotations

import os
from decimal import Decimal as D

import pytest

from tests.trading.test_submission import cleaned, exchange_orders, open_market, wait_for
from trading.models import Order
from trading.services import place_order

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


def resting_order(sim, trader, **overrides) -> Order:
    ticker = open_market(sim)
    order = place_order(trader, cleaned(**overrides), ticker)
    return wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).first())


def amended(order: Order) -> Order:
    return wait_for(
        lambda: (
            Order.objects.filter(pk=order.pk, amend_price__isnull=True, amend_count__isnull=True)
            .exclude(price=order.price, count=order.count)
            .first()
        ),
        timeout=25,
    )


def the_exchange_order(sim, trader, order: Order):
    found = exchange_orders(sim, trader.sim_user_id, str(order.client_order_id))
    assert len(found) == 1, found
    return found[0]


def empty_market(sim) -> str:
    """A new open market with an empty book on the simulator, and its row here."""
    from markets.models import Market
    from tests.trading.orderkit import fresh_market

    ticker = fresh_market(sim)
    Market.objects.create(
        ticker=ticker, status="active", price_ranges=[{"start": "0", "end": "1", "step": "0.01"}]
    )
    return ticker


def test_an_amend_moves_the_resting_order_on_the_exchange(sim, trader, celery_worker, client):
    order = resting_order(sim, trader)
    client.force_login(trader)
    form = client.get(f"/orders/{order.pk}/amend/", headers=HTMX).content.decode()
    assert 'name="price_cents"' in form and 'name="count"' in form and f'id="order-{order.pk}"' in form

    response = client.post(f"/orders/{order.pk}/amend/", {"price_cents": "3", "count": "5"}, headers=HTMX)
    assert response.status_code == 200
    assert "amending to 5 @ 3¢" in response.content.decode()  # at once, before the exchange has it

    order = amended(order)
    assert (order.price, order.yes_price, order.count, order.remaining_count) == (D("0.03"), D("0.03"), 5, 5)
    remote = the_exchange_order(sim, trader, order)
    assert (remote.yes_price, remote.remaining_count) == (D("0.03"), D("5"))
    assert list(order.events.values_list("kind", flat=True))[-2:] == ["amend_requested", "amended"]


def test_a_no_order_is_amended_on_the_yes_leg_it_was_sent_on(sim, trader, celery_worker, client):
    order = resting_order(sim, trader, outcome="no", price=D("0.05"))  # buy NO @ 5¢ = ask YES @ 95¢
    client.force_login(trader)
    client.post(f"/orders/{order.pk}/amend/", {"price_cents": "4", "count": "3"}, headers=HTMX)
    order = amended(order)
    assert (order.price, order.yes_price) == (D("0.04"), D("0.96"))
    assert the_exchange_order(sim, trader, order).yes_price == D("0.96")


def test_a_lost_answer_to_an_amend_ends_with_the_target_once(sim, trader, celery_worker, client, settings):
    settings.KALSHI_ORDER_TIMEOUT_SECONDS = 1.0
    order = resting_order(sim, trader)
    client.force_login(trader)
    path = f"/portfolio/events/orders/{order.exchange_order_id}/amend"
    sim.faults.fail_next(1, "timeout_after_accept", path_prefix=path, hang_seconds=3)
    try:
        client.post(f"/orders/{order.pk}/amend/", {"price_cents": "3", "count": "4"}, headers=HTMX)
        order = amended(order)
    finally:
        sim.faults.reset()
    remote = the_exchange_order(sim, trader, order)
    assert (remote.yes_price, remote.remaining_count) == (D("0.03"), D("4"))
    assert (order.price, order.count) == (D("0.03"), D("4"))
    events = list(order.events.values_list("kind", "actor"))
    assert ("amend_unknown", "worker") in events
    assert events[-1] == (
        "amended",
        "reconcile",
    )  # the retry read the order and found it done: not sent again


def test_an_amend_the_exchange_refuses_says_why_and_leaves_the_order(sim, trader, celery_worker, client):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    order = resting_order(sim, trader)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{trader.pk}", channel)
    client.force_login(trader)
    # The exchange paused the market after our last sync: our checks pass, the exchange refuses the amend.
    market = sim.call(lambda: sim.exchange.markets[order.ticker])
    sim.call(lambda: setattr(market, "status", "inactive"))
    try:
        client.post(f"/orders/{order.pk}/amend/", {"price_cents": "3", "count": "4"}, headers=HTMX)
        row = wait_for(
            lambda: Order.objects.filter(pk=order.pk, amend_price__isnull=True).first(), timeout=25
        )
    finally:
        sim.call(lambda: setattr(market, "status", "active"))
    assert (row.price, row.count, row.status) == (order.price, order.count, Order.Status.RESTING)
    assert "amend_refused" in list(row.events.values_list("kind", flat=True))
    remote = the_exchange_order(sim, trader, row)
    assert (remote.yes_price, remote.remaining_count) == (D("0.02"), D("3"))
    frames: list[str] = []
    while not any("Amend refused" in f for f in frames):  # the trader's toast, with the exchange's reason
        html = async_to_sync(layer.receive)(channel)["html"]
        frames += html if isinstance(html, list) else [html]
    row_html = next(f for f in reversed(frames) if f'id="order-{order.pk}"' in f)
    assert "amending" not in row_html and ">Amend</button>" in row_html  # back to an amendable row


def make_resting(trader, ticker: str, **fields) -> Order:
    from tests.trading.orderkit import make_order

    order = make_order(trader, trader.kalshi_account, ticker)
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.RESTING, exchange_order_id=f"ex-{order.pk}", **fields
    )
    return Order.objects.get(pk=order.pk)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"price_cents": "2.5", "count": "3"}, "not on this market"),
        ({"price_cents": "0", "count": "3"}, "between 0¢ and 100¢"),
        ({"price_cents": "3", "count": "0.001"}, "at most 2 decimals"),
        ({"price_cents": "3", "count": "1"}, "already filled"),
        ({"price_cents": "2", "count": "3"}, "Nothing to change"),
        ({"price_cents": "", "count": "abc"}, "required"),
        ({"price_cents": "3", "count": "١٢"}, "digits 0-9"),  # Arabic-Indic 12
        ({"price_cents": "٣", "count": "4"}, "digits 0-9"),
        ({"price_cents": "3", "count": "４"}, "digits 0-9"),  # full-width 4
    ],
)
def test_bad_amends_are_refused_next_to_the_field_and_change_nothing(sim, trader, client, data, message):
    order = make_resting(trader, open_market(sim), fill_count=D("2"), remaining_count=D("1"))
    client.force_login(trader)
    response = client.post(f"/orders/{order.pk}/amend/", data, headers=HTMX)
    assert response.status_code == 200
    assert message in response.content.decode()
    row = Order.objects.get(pk=order.pk)
    assert (
        row.amend_price is None and row.price == order.price and not row.events.filter(kind="amend_requested")
    )


def test_only_resting_orders_of_my_own_can_be_amended(sim, trader, client):
    from tests.factories import make_user

    ticker = open_market(sim)
    order = make_resting(trader, ticker)
    bob = make_user("bob")
    client.force_login(bob)
    assert client.get(f"/orders/{order.pk}/amend/", headers=HTMX).status_code == 404
    assert client.post(f"/orders/{order.pk}/amend/", {"price_cents": "3", "count": "3"}).status_code == 404

    client.force_login(trader)
    Order.objects.filter(pk=order.pk).update(cancel_requested=True)
    html = client.post(
        f"/orders/{order.pk}/amend/", {"price_cents": "3", "count": "3"}, headers=HTMX
    ).content.decode()
    assert "Only a resting order can be amended" in html
    assert Order.objects.get(pk=order.pk).amend_price is None


def test_an_amend_post_needs_the_csrf_token(sim, trader):
    from django.test import Client

    order = make_resting(trader, open_market(sim))
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(trader)
    response = csrf_client.post(f"/orders/{order.pk}/amend/", {"price_cents": "3", "count": "3"})
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).amend_price is None


def test_an_amend_whose_task_was_lost_is_sent_by_the_sweep(sim, trader, celery_worker, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from trading.services import request_amend
    from trading.tasks import reconcile_stuck_orders

    order = resting_order(sim, trader)
    monkeypatch.setattr("trading.tasks.amend_order.delay_on_commit", lambda *a, **k: None)  # message lost
    assert request_amend(trader, order, D("0.03"), D("3"))
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert reconcile_stuck_orders() == 1
    order = amended(order)
    assert order.price == D("0.03")
    assert the_exchange_order(sim, trader, order).yes_price == D("0.03")


def test_an_amend_that_crosses_fills_at_once_and_rests_the_rest(sim, trader, celery_worker, client):
    ticker = empty_market(sim)  # only the seller below trades with us
    order = place_order(trader, cleaned(), ticker)
    order = wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).first())
    seller_key, _pem = sim.add_account()
    sim.call(
        sim.exchange.create_order,
        sim.user_id(seller_key),
        ticker=ticker,
        side="ask",
        count=D("2"),
        price=D("0.05"),
        time_in_force="good_till_canceled",
    )
    client.force_login(trader)
    client.post(f"/orders/{order.pk}/amend/", {"price_cents": "5", "count": "5"}, headers=HTMX)
    order = amended(order)
    assert (order.count, order.fill_count, order.remaining_count, order.status) == (
        D("5"),
        D("2"),
        D("3"),
        Order.Status.RESTING,
    )
    remote = the_exchange_order(sim, trader, order)
    assert (remote.fill_count, remote.remaining_count, remote.yes_price) == (D("2"), D("3"), D("0.05"))


def test_randomized_faults_and_duplicate_deliveries_leave_every_amend_done_once(
    sim, trader, settings, monkeypatch
):
    """Seeded trials: a resting order, an amend to a random limit and size, 0-2 injected failures on its amend
    request (429, 500, timeout after accept) and the task delivered 1-3 times at once on separate threads, each
    delivery re-run on `Retry` as the broker would. Every trial ends with one exchange order at exactly the
    target, the row equal to it and no amend left in flight."""
    import random
    import threading

    from celery.exceptions import Retry
    from django.db import connection

    from trading import tasks
    from trading.services import request_amend

    settings.KALSHI_ORDER_TIMEOUT_SECONDS = 0.5
    monkeypatch.setattr("trading.tasks.submit_order.delay_on_commit", lambda *a, **k: None)
    monkeypatch.setattr("trading.tasks.amend_order.delay_on_commit", lambda *a, **k: None)
    monkeypatch.setattr("trading.tasks._backoff", lambda retries: 0.0)
    rng = random.Random(20261202)
    trials = int(os.environ.get("KALSHIWEB_AMEND_TRIALS", "24"))
    faults_seen: list[str] = []

    def deliver(order_id: int, errors: list[BaseException]) -> None:
        try:
            for _ in range(20):
                try:
                    tasks.amend_order.run(order_id)
                    return
                except Retry:
                    continue
            errors.append(AssertionError("still retrying after 20 runs"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    for trial in range(trials):
        ticker = empty_market(sim)
        order = place_order(trader, cleaned(), ticker)
        tasks.submit_order.run(order.pk)
        order.refresh_from_db()
        assert order.status == Order.Status.RESTING, trial
        price = D(rng.choice([1, 3, 4, 5, 6, 7])) / 100
        count = D(rng.randint(1, 6))
        assert request_amend(trader, order, price, count)
        mode = rng.choice(["none", "429", "500", "timeout_after_accept"])
        if mode != "none":
            times = rng.randint(1, 2)
            faults_seen += [mode] * times
            sim.faults.fail_next(
                times,
                mode,
                path_prefix=f"/portfolio/events/orders/{order.exchange_order_id}/amend",
                hang_seconds=0.8,
            )
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=deliver, args=(order.pk, errors)) for _ in range(rng.randint(1, 3))
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
        finally:
            sim.faults.reset()
        assert not errors, (trial, errors)
        row = Order.objects.get(pk=order.pk)
        remote = the_exchange_order(sim, trader, row)
        context = (trial, mode, price, count, list(row.events.values_list("kind", "actor")))
        assert row.amend_price is None and row.amend_count is None, context
        assert (remote.yes_price, remote.fill_count + remote.remaining_count) == (price, count), context
        assert (row.price, row.yes_price, row.count, row.remaining_count) == (
            price,
            price,
            count,
            remote.remaining_count,
        ), context
    assert set(faults_seen) == {"429", "500", "timeout_after_accept"}  # the seed exercises every fault


def test_a_plain_form_post_only_returns_to_a_page_of_this_site(sim, trader, client):
    order = make_resting(trader, open_market(sim))
    client.force_login(trader)
    response = client.post(f"/orders/{order.pk}/cancel/", {"next": "https://elsewhere.example/phish"})
    assert response.status_code == 302 and response["Location"] == "/orders/"
    other = make_resting(trader, open_market(sim))
    response = client.post(f"/orders/{other.pk}/cancel/", {"next": "/markets/"})
    assert response["Location"] == "/markets/"
