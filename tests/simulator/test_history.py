"""The simulator's live/historical partition (kalshiweb/simulator/history.py) and cash moves, on the engine
alone: the cutoff advances with the clock by whole days and never moves back; a settled event's positions
move together; withdrawals keep the money invariant and refuse more than the balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from kalshiweb.simulator.engine import Event, Exchange, ExchangeError, Market, Series
from kalshiweb.simulator.history import LIVE_WINDOW

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)


def exchange() -> Exchange:
    ex = Exchange(seed=3, now=NOW, catalog=False)
    ex.add_series(Series("KXH", "History", "Economics"))
    ex.add_event(Event("KXH-E", "KXH", "Two markets"))
    for ticker in ("KXH-E-A", "KXH-E-B"):
        ex.add_market(
            Market(
                ticker, "KXH-E", "KXH", ticker, "Yes", "No", NOW - timedelta(hours=1), NOW + timedelta(days=1)
            )
        )
    for user in ("alice", "bob"):
        ex.add_account(user, D("100"))
    return ex


def trade(ex: Exchange, ticker: str) -> None:
    ex.create_order(
        "bob", ticker=ticker, side="ask", count=D("2"), price=D("0.40"), time_in_force="good_till_canceled"
    )
    ex.create_order(
        "alice", ticker=ticker, side="bid", count=D("2"), price=D("0.40"), time_in_force="good_till_canceled"
    )


def test_the_cutoff_is_the_start_of_the_day_a_live_window_ago_and_advances_by_days() -> None:
    ex = exchange()
    assert LIVE_WINDOW == timedelta(days=90)  # Kalshi's target: about three months of live data
    assert ex.history.cutoff() == datetime(2026, 9, 5, tzinfo=UTC)  # the start of the day 90 days ago
    ex.advance(NOW + timedelta(hours=6))
    assert ex.history.cutoff() == datetime(2026, 9, 5, tzinfo=UTC)
    ex.advance(NOW + timedelta(hours=12))  # the day 90 days back has turned
    assert ex.history.cutoff() == datetime(2026, 9, 6, tzinfo=UTC)
    pinned = ex.history.pin(NOW)
    assert pinned == NOW
    assert ex.history.pin(NOW - timedelta(days=1)) == NOW  # never back


def test_a_settled_events_positions_move_only_once_every_market_is_archived() -> None:
    ex = exchange()
    trade(ex, "KXH-E-A")
    ex.settle_market("KXH-E-A", "yes")
    ex.advance(NOW + timedelta(seconds=5))
    ex.history.pin(ex.now)
    position = ex.account("alice").positions["KXH-E-A"]
    assert ex.history.market_archived(ex.markets["KXH-E-A"])
    assert not ex.history.position_archived(position, ex.events, ex.markets)  # KXH-E-B still trades

    ex.settle_market("KXH-E-B", "no")
    ex.advance(NOW + timedelta(seconds=10))
    ex.history.pin(ex.now)
    assert ex.history.position_archived(position, ex.events, ex.markets)
    fill = ex.account("alice").fills[0]
    assert ex.history.trade_archived(fill)


def test_resting_orders_are_never_archived() -> None:
    ex = exchange()
    order = ex.create_order(
        "alice",
        ticker="KXH-E-A",
        side="bid",
        count=D("1"),
        price=D("0.10"),
        time_in_force="good_till_canceled",
    )
    ex.advance(NOW + timedelta(minutes=10))
    ex.history.pin(ex.now)
    assert not ex.history.order_archived(order)
    ex.cancel_order("alice", order.order_id)
    assert not ex.history.order_archived(order)  # canceled after the cutoff


def test_cash_moves_keep_the_money_invariant_and_refuse_an_overdraft() -> None:
    ex = exchange()
    ex.cash.deposit("alice", "50.00", "wire")
    ex.cash.withdraw("alice", "30.00")
    ex.check_invariants()
    assert ex.account("alice").balance == D("120.00")
    with pytest.raises(ExchangeError):
        ex.cash.withdraw("alice", "1000")
    with pytest.raises(ExchangeError):
        ex.cash.deposit("alice", "0.001")
    assert [t.amount for t in ex.cash.of("alice", "deposit")] == [D("100"), D("50.00")]
    assert [t.amount for t in ex.cash.of("alice", "withdrawal")] == [D("30.00")]
    ex.check_invariants()
