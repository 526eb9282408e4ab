"""Orders placed through the web app, submitted by a real Celery worker to the simulator over loopback HTTP."""

from __future__ import annotations

import time
from decimal import Decimal as D
from typing import Any

import pytest

from markets.models import Market
from trading.models import Order
from trading.services import place_order
from trading.tasks import submit_order

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def open_market(sim) -> str:
    ticker = sim.call(
        lambda: next(
            t
            for t, m in sim.exchange.markets.items()
            if m.status == "active" and m.price_level_structure == "linear_cent"
        )
    )
    list_market(ticker)
    return ticker


def list_market(ticker: str) -> None:
    """The app's row for a simulator market (active, one-cent grid), unless it is listed already."""
    Market.objects.get_or_create(
        ticker=ticker,
        defaults={
            "status": "active",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        },
    )


def exchange_orders(sim, user_id: str, client_order_id: str) -> list:
    return sim.call(
        lambda: [
            o for o in sim.exchange.account(user_id).orders.values() if o.client_order_id == client_order_id
        ]
    )


def cleaned(**overrides: Any) -> dict[str, Any]:
    data = {
        "outcome": "yes",
        "action": "buy",
        "price": D("0.02"),
        "count": D("3"),
        "time_in_force": "gtc",
        "expiration": None,
        "post_only": False,
        "reduce_only": False,
    }
    data.update(overrides)
    return data


def test_an_order_rests_on_the_exchange(sim, trader, celery_worker):
    ticker = open_market(sim)
    order = place_order(trader, cleaned(), ticker)
    order = wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).first())
    assert order.exchange_order_id
    assert len(exchange_orders(sim, trader.sim_user_id, str(order.client_order_id))) == 1
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds[:3] == ["created", "submitting", "acknowledged"]


def test_a_rejected_order_shows_kalshis_reason(sim, trader, celery_worker):
    ticker = open_market(sim)
    order = place_order(trader, cleaned(count=D("100000000"), price=D("0.90")), ticker)
    order = wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.REJECTED).first())
    assert order.error_code == "available_balance_too_low"
    assert order.error_message


@pytest.mark.parametrize("mode", ["timeout_after_accept", "500"])
def test_a_lost_answer_is_reconciled_to_exactly_one_order(sim, trader, celery_worker, settings, mode):
    settings.KALSHI_ORDER_TIMEOUT_SECONDS = 1.0
    ticker = open_market(sim)
    sim.faults.fail_next(1, mode, path_prefix="/portfolio/events/orders", hang_seconds=3)
    try:
        order = place_order(trader, cleaned(), ticker)
        order = wait_for(
            lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).first(), timeout=25
        )
    finally:
        sim.faults.reset()
    assert len(exchange_orders(sim, trader.sim_user_id, str(order.client_order_id))) == 1
    assert "outcome_unknown" in list(order.events.values_list("kind", flat=True))


def test_a_429_is_retried_and_places_one_order(sim, trader, celery_worker):
    ticker = open_market(sim)
    sim.faults.fail_next(2, "429", path_prefix="/portfolio/events/orders")
    try:
        order = place_order(trader, cleaned(), ticker)
        order = wait_for(
            lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).first(), timeout=25
        )
    finally:
        sim.faults.reset()
    assert len(exchange_orders(sim, trader.sim_user_id, str(order.client_order_id))) == 1
    assert list(order.events.values_list("kind", flat=True)).count("rate_limited") == 2


def test_the_same_task_delivered_twice_submits_once(sim, trader, celery_worker):
    ticker = open_market(sim)
    order = place_order(trader, cleaned(), ticker)
    for _ in range(3):
        submit_order.delay(order.pk)
    wait_for(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.RESTING).exists())
    time.sleep(1.0)
    assert len(exchange_orders(sim, trader.sim_user_id, str(order.client_order_id))) == 1
    assert list(Order.objects.get(pk=order.pk).events.values_list("kind", flat=True)).count("submitting") == 1


def test_the_claim_and_its_submitting_row_commit_together_or_not_at_all(sim, trader, monkeypatch):
    """One transaction before the POST: when its audit row cannot be written, the claim is rolled back with
    it (the order is still NEW, nothing was sent), and the next delivery submits it exactly once."""
    from trading import lifecycle

    ticker = open_market(sim)
    monkeypatch.setattr("trading.tasks.submit_order.delay_on_commit", lambda *a, **k: None)
    order = place_order(trader, cleaned(), ticker)
    real_audit = lifecycle.audit

    def failing_audit(o: Order, kind: str, *args: Any, **kwargs: Any) -> None:
        if kind == "submitting":
            raise RuntimeError("audit row could not be written")
        real_audit(o, kind, *args, **kwargs)

    monkeypatch.setattr(lifecycle, "audit", failing_audit)
    with pytest.raises(RuntimeError, match="audit row"):
        submit_order.run(order.pk)
    row = Order.objects.get(pk=order.pk)
    assert (row.status, row.attempts, row.submitted_at) == (Order.Status.NEW, 0, None)
    assert not row.events.filter(kind="submitting").exists()
    assert exchange_orders(sim, trader.sim_user_id, str(order.client_order_id)) == []

    monkeypatch.setattr(lifecycle, "audit", real_audit)
    assert submit_order.run(order.pk) == Order.Status.RESTING
    assert submit_order.run(order.pk) == "already resting"
    row = Order.objects.get(pk=order.pk)
    kinds = list(row.events.values_list("kind", "status"))
    assert kinds.count(("submitting", Order.Status.SUBMITTING)) == 1 and row.attempts == 1
    assert len(exchange_orders(sim, trader.sim_user_id, str(order.client_order_id))) == 1


def test_concurrent_deliveries_claim_once_and_submit_once(sim, trader, monkeypatch):
    """Four threads (each its own connection, as worker threads are) run the same task at once."""
    import threading

    from django.db import connection

    ticker = open_market(sim)
    monkeypatch.setattr("trading.tasks.submit_order.delay_on_commit", lambda *a, **k: None)
    queued: list[tuple] = []
    monkeypatch.setattr("trading.tasks.reconcile_order.apply_async", lambda *a, **k: queued.append(a))
    orders = [place_order(trader, cleaned(), ticker) for _ in range(3)]
    for order in orders:
        start = threading.Barrier(4)
        answers: list[str] = []

        def deliver(
            pk: int = order.pk, start: threading.Barrier = start, answers: list[str] = answers
        ) -> None:
            try:
                start.wait()
                answers.append(submit_order.run(pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=deliver) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers.count(Order.Status.RESTING) == 1, answers
        assert all(a.startswith("already") for a in answers if a != Order.Status.RESTING), answers
        row = Order.objects.get(pk=order.pk)
        assert row.status == Order.Status.RESTING and row.attempts == 1
        assert list(row.events.values_list("kind", flat=True)).count("submitting") == 1
        assert len(exchange_orders(sim, trader.sim_user_id, str(order.client_order_id))) == 1


def test_a_claim_from_a_row_read_before_another_attempt_still_counts_attempts(sim, trader, monkeypatch):
    ticker = open_market(sim)
    monkeypatch.setattr("trading.tasks.submit_order.delay_on_commit", lambda *a, **k: None)
    order = place_order(trader, cleaned(), ticker)
    stale = Order.objects.get(pk=order.pk)
    Order.objects.filter(pk=order.pk).update(attempts=2)  # e.g. two 429s since `stale` was read
    assert stale.mark_submitting()
    assert stale.attempts == 3 and Order.objects.get(pk=order.pk).attempts == 3
    assert not Order.objects.get(pk=order.pk).mark_submitting()  # claimed: nobody else gets it
    fresh = Order.objects.get(pk=order.pk)
    assert fresh.status == Order.Status.SUBMITTING and fresh.submitted_at == stale.submitted_at
