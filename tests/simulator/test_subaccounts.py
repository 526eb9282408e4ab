"""The simulator's subaccounts (issue #15, item 6): each numbered subaccount has its own cash, orders, fills
and positions; transfers move cash between them exactly once per client_transfer_id; the money invariant holds."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kalshiweb.simulator.engine import ExchangeError, FillEvent, PositionUpdate
from kalshiweb.simulator.faults import Faults
from kalshiweb.simulator.feed import WsFeed

from .test_engine import NOW, T, make_exchange


def test_subaccounts_are_numbered_from_one_and_start_empty() -> None:
    ex = make_exchange()
    assert ex.subaccounts.create("alice") == 1
    assert ex.subaccounts.create("alice") == 2
    assert ex.subaccounts.create("bob") == 1
    accounts = ex.subaccounts.accounts("alice")
    assert [(a.subaccount, a.balance) for a in accounts] == [(0, D("10000")), (1, D(0)), (2, D(0))]
    with pytest.raises(ExchangeError) as err:
        ex.subaccounts.create("nobody")
    assert err.value.http_status == 404


def test_at_most_63_subaccounts() -> None:
    ex = make_exchange()
    for _ in range(63):
        ex.subaccounts.create("alice")
    with pytest.raises(ExchangeError, match="at most 63"):
        ex.subaccounts.create("alice")


def test_a_transfer_moves_cash_exactly_once_per_client_id() -> None:
    ex = make_exchange()
    ex.subaccounts.create("alice")
    first = ex.subaccounts.transfer("alice", "t-1", 0, 1, 12_345)
    again = ex.subaccounts.transfer("alice", "t-1", 0, 1, 12_345)  # a retried request
    assert again is first
    assert ex.ledger.sub_account("alice", 0).balance == D("10000") - D("123.45")
    assert ex.ledger.sub_account("alice", 1).balance == D("123.45")
    assert [t.amount_cents for t in ex.subaccounts.transfers("alice")] == [12_345]
    with pytest.raises(ExchangeError, match="different transfer"):
        ex.subaccounts.transfer("alice", "t-1", 0, 1, 1)
    ex.check_invariants()


@pytest.mark.parametrize(
    ("src", "dst", "cents", "message"),
    [
        (1, 0, 1, "has 0.00 available"),
        (0, 2, 1, "to_subaccount 2 does not exist"),
        (0, 0, 1, "must differ"),
        (0, 1, 0, "positive"),
        (0, 1, "5", "positive"),
        (-1, 1, 5, "between 0 and 63"),
        (True, 1, 5, "between 0 and 63"),
    ],
)
def test_a_bad_transfer_is_refused_and_moves_nothing(
    src: object, dst: object, cents: object, message: str
) -> None:
    ex = make_exchange()
    ex.subaccounts.create("alice")
    with pytest.raises(ExchangeError, match=message) as err:
        ex.subaccounts.transfer("alice", "t-bad", src, dst, cents)
    assert err.value.http_status == 400
    assert ex.ledger.sub_account("alice", 0).balance == D("10000")
    assert ex.ledger.sub_account("alice", 1).balance == D(0)
    assert ex.subaccounts.transfers("alice") == []


def test_orders_fills_and_positions_belong_to_their_subaccount() -> None:
    ex = make_exchange()
    ex.subaccounts.create("alice")
    ex.subaccounts.transfer("alice", "fund", 0, 1, 10_000)  # $100 to subaccount 1
    events: list[object] = []
    ex.add_listener(events.append)
    resting = ex.create_order(
        "alice", ticker=T, side="bid", count=D(10), price=D("0.40"), time_in_force="good_till_canceled",
        subaccount=1,
    )  # fmt: skip
    sub = ex.ledger.sub_account("alice", 1)
    primary = ex.ledger.sub_account("alice", 0)
    assert sub.balance == D(96) and primary.balance == D(9900)  # collateral from the subaccount only
    ex.create_order(
        "bob", ticker=T, side="ask", count=D(4), price=D("0.40"), time_in_force="immediate_or_cancel"
    )
    assert sub.positions[T].position == D(4)
    assert T not in primary.positions
    assert [f.subaccount for f in sub.fills] == [1] and primary.fills == []
    assert resting.order_id in sub.orders and resting.order_id not in primary.orders
    fills = [e for e in events if isinstance(e, FillEvent) and e.user_id == "alice"]
    assert [f.fill.subaccount for f in fills] == [1]
    updates = [e for e in events if isinstance(e, PositionUpdate) and e.user_id == "alice"]
    assert updates and {u.subaccount for u in updates} == {1}
    feed = WsFeed(ex, Faults(), lambda: NOW)
    msg = feed.private_msg(updates[-1])
    assert msg["subaccount"] == 1 and msg["position_fp"] == "4.00"
    ex.check_invariants()


def test_a_subaccount_cannot_spend_more_than_its_own_cash() -> None:
    ex = make_exchange()
    ex.subaccounts.create("alice")
    ex.subaccounts.transfer("alice", "fund", 0, 1, 100)  # $1
    with pytest.raises(ExchangeError) as err:
        ex.create_order(
            "alice", ticker=T, side="bid", count=D(10), price=D("0.50"), time_in_force="good_till_canceled",
            subaccount=1,
        )  # fmt: skip
    assert err.value.code == "available_balance_too_low"
    assert ex.ledger.sub_account("alice", 1).balance == D(1)


def test_orders_for_a_subaccount_that_does_not_exist_are_refused() -> None:
    ex = make_exchange()
    with pytest.raises(ExchangeError, match="subaccount 3 does not exist"):
        ex.create_order(
            "alice", ticker=T, side="bid", count=D(1), price=D("0.50"), time_in_force="good_till_canceled",
            subaccount=3,
        )  # fmt: skip


def test_settlement_pays_each_subaccount_its_own_winnings() -> None:
    ex = make_exchange()
    ex.subaccounts.create("alice")
    ex.subaccounts.transfer("alice", "fund", 0, 1, 10_000)
    ex.create_order(
        "alice", ticker=T, side="bid", count=D(10), price=D("0.40"), time_in_force="good_till_canceled",
        subaccount=1,
    )  # fmt: skip
    ex.create_order(
        "bob", ticker=T, side="ask", count=D(10), price=D("0.40"), time_in_force="immediate_or_cancel"
    )
    ex.settle_market(T, "yes")
    sub = ex.ledger.sub_account("alice", 1)
    assert sub.balance == D(100) - D(4) + D(10)
    assert [s.revenue for s in sub.settlements] == [D(10)]
    assert ex.ledger.sub_account("alice", 0).settlements == []
    ex.check_invariants()
