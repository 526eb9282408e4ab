"""The account's shared token bucket is charged the exchange's own per-endpoint costs (GET /account/endpoint_costs),
fetched once and shared through Redis; when they cannot be had, the documented defaults apply."""

from __future__ import annotations

import threading

import pytest

from markets import live
from trading import clients

pytestmark = pytest.mark.django_db(transaction=True)


def fresh_client(account):
    clients.forget_clients()
    return clients.client_for(account)


def in_thread(fn):
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("v", fn()))
    thread.start()
    thread.join(30)
    return out["v"]


def test_clients_charge_the_exchanges_costs_fetched_once(sim, trader):
    account = trader.kalshi_account
    live.client().delete(f"kw:endpoint_costs:{sim.rest_base}")
    client = fresh_client(account)
    table = client.client.cost_table
    assert table is not None
    assert table.cost("DELETE", "/portfolio/events/orders/abc") == 2  # the simulator's cancel cost
    assert table.cost("POST", "/portfolio/events/orders") == 10
    assert live.client().exists(f"kw:endpoint_costs:{sim.rest_base}")

    # Another thread's client (its own cache) takes them from Redis: no second request.
    sim.faults.fail_next(5, "500", path_prefix="/account/endpoint_costs")
    try:
        other = in_thread(lambda: clients.client_for(account))
        assert other.client.cost_table is not None
        assert other.client.cost_table.cost("DELETE", "/portfolio/events/orders/abc") == 2
    finally:
        sim.faults.reset()
    clients.forget_clients()


def test_without_the_costs_the_defaults_apply(sim, trader):
    live.client().delete(f"kw:endpoint_costs:{sim.rest_base}")
    sim.faults.fail_next(5, "500", path_prefix="/account/endpoint_costs")
    try:
        client = fresh_client(trader.kalshi_account)
    finally:
        sim.faults.reset()
    assert client.client.cost_table is None
    clients.forget_clients()
