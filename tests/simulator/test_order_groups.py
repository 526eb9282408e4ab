"""Order groups in the engine: the rolling 15 s limit trips the group (cancels its resting orders, blocks new
ones) until reset; manual trigger, limit update and delete; every change announced once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from kalshiweb.simulator.engine import Exchange, ExchangeError
from kalshiweb.simulator.events import OrderGroupEvent
from tests.simulator.test_engine import NOW, ask, bid, make_exchange


@pytest.fixture
def ex() -> Exchange:
    return make_exchange()


def group_events(ex: Exchange) -> list[OrderGroupEvent]:
    seen: list[OrderGroupEvent] = []
    ex.add_listener(lambda ev: seen.append(ev) if isinstance(ev, OrderGroupEvent) else None)
    return seen


def test_fills_past_the_limit_cancel_the_group_and_block_new_orders(ex: Exchange) -> None:
    events = group_events(ex)
    g = ex.order_groups.create("alice", D(5))
    resting = bid(ex, "alice", "0.30", "10", order_group_id=g.group_id)
    maker = bid(ex, "alice", "0.40", "10", order_group_id=g.group_id)
    outside = bid(ex, "alice", "0.20", "3")  # not in the group: untouched
    ask(ex, "bob", "0.40", "5")  # fills 5 of the maker: at the limit, not past it
    assert not g.triggered and maker.status == "resting"
    ask(ex, "bob", "0.40", "1")  # 6 > 5: tripped
    assert g.triggered
    assert resting.status == "canceled" and maker.status == "canceled"
    assert outside.status == "resting"
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "alice", "0.30", "1", order_group_id=g.group_id)
    assert exc.value.code == "order_group_triggered"
    assert [e.event_type for e in events] == ["created", "triggered"]
    ex.check_invariants()

    ex.order_groups.reset("alice", g.group_id)
    assert not g.triggered
    again = bid(ex, "alice", "0.30", "1", order_group_id=g.group_id)
    assert again.status == "resting"
    assert [e.event_type for e in events] == ["created", "triggered", "reset"]


def test_the_window_rolls_after_15_seconds(ex: Exchange) -> None:
    g = ex.order_groups.create("alice", D(5))
    bid(ex, "alice", "0.40", "20", order_group_id=g.group_id)
    ask(ex, "bob", "0.40", "4")
    ex.advance(NOW + timedelta(seconds=16))
    ask(ex, "bob", "0.40", "4")  # the first 4 left the window: 4 <= 5
    assert not g.triggered
    ask(ex, "bob", "0.40", "2")  # 6 in the last 15 s
    assert g.triggered


def test_a_taker_order_in_the_group_trips_it_and_its_rest_is_canceled(ex: Exchange) -> None:
    g = ex.order_groups.create("alice", D(2))
    ask(ex, "bob", "0.40", "3")
    order = bid(ex, "alice", "0.40", "10", order_group_id=g.group_id)
    assert order.fill_count == D(3)
    assert g.triggered and order.status == "canceled" and order.remaining_count == 0
    ex.check_invariants()


def test_manual_trigger_limit_update_and_delete(ex: Exchange) -> None:
    events = group_events(ex)
    g = ex.order_groups.create("alice", D(100))
    o = bid(ex, "alice", "0.40", "10", order_group_id=g.group_id)
    ex.order_groups.trigger("alice", g.group_id)
    assert g.triggered and o.status == "canceled"
    ex.order_groups.reset("alice", g.group_id)

    o2 = bid(ex, "alice", "0.40", "10", order_group_id=g.group_id)
    ask(ex, "bob", "0.40", "4")
    ex.order_groups.update_limit("alice", g.group_id, D(3))  # below the rolling 4: triggers
    assert g.triggered and o2.status == "canceled"
    assert [(e.event_type, e.contracts_limit) for e in events] == [
        ("created", D(100)),
        ("triggered", None),
        ("reset", None),
        ("limit_updated", D(3)),
        ("triggered", None),
    ]
    ex.order_groups.reset("alice", g.group_id)
    o3 = bid(ex, "alice", "0.30", "1", order_group_id=g.group_id)
    ex.order_groups.delete("alice", g.group_id)
    assert o3.status == "canceled"
    with pytest.raises(ExchangeError):
        ex.order_groups.get("alice", g.group_id)
    ex.check_invariants()


def test_groups_are_private_and_limits_are_checked(ex: Exchange) -> None:
    g = ex.order_groups.create("alice", D(5))
    with pytest.raises(ExchangeError) as exc:
        ex.order_groups.trigger("bob", g.group_id)
    assert exc.value.http_status == 404
    with pytest.raises(ExchangeError):
        bid(ex, "bob", "0.30", "1", order_group_id=g.group_id)
    for bad in (D(0), D("1.5"), D(1_000_001)):
        with pytest.raises(ExchangeError):
            ex.order_groups.create("alice", bad)
    assert [x.group_id for x in ex.order_groups.of_user("alice")] == [g.group_id]
    assert ex.order_groups.of_user("bob") == []
