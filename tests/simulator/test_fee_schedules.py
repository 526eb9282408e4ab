"""The simulator charges each fill by its market's fee schedule: the series' fee type and multiplier, or the
event's override (issue #15 item 4); the schedule in force at the fill is the one charged."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kalshiweb.simulator import fees
from kalshiweb.simulator.engine import Exchange
from tests.simulator.test_engine import T, ask, bid, make_exchange


@pytest.fixture
def ex() -> Exchange:
    return make_exchange()


def fill(ex: Exchange) -> tuple[D, D]:
    maker = ask(ex, "bob", "0.45", "10")
    taker = bid(ex, "alice", "0.50", "10")
    ex.check_invariants()
    return taker.taker_fees, maker.maker_fees


def test_the_default_quadratic_schedule_charges_the_taker_only(ex: Exchange) -> None:
    assert fill(ex) == (D("0.18"), D("0.00"))


def test_a_series_with_maker_fees_and_a_multiplier_charges_both_sides(ex: Exchange) -> None:
    series = ex.series["KXTEST"]
    series.fee_type, series.fee_multiplier = "quadratic_with_maker_fees", D("0.5")
    # taker ceil(0.07 * 0.5 * 10 * 0.45 * 0.55 = 0.0866) = 0.09; maker ceil(0.0175 * 0.5 * 2.475 = 0.0217) = 0.03
    taker, maker = fill(ex)
    assert (taker, maker) == (D("0.09"), D("0.03"))
    assert ex.account("bob").balance == D("10000") - D("5.50") - maker


def test_an_event_override_beats_the_series_schedule(ex: Exchange) -> None:
    ex.lifecycle.event_fee_overrides["KXTEST-26NOV24"] = ("flat", D("2"))
    assert fill(ex) == (D("0.20"), D("0.00"))  # 1 cent x 2 x 10 contracts
    assert ex.lifecycle.fee_schedule(ex.get_market(T)) == ("flat", D("2"))


def test_schedule_fees_matches_the_published_formula_by_default() -> None:
    for count, price in [(D("1"), D("0.5")), (D("7"), D("0.13")), (D("100"), D("0.99"))]:
        assert fees.schedule_fees("quadratic", D(1), count, price) == (
            fees.taker_fee(count, price),
            D("0.00"),
        )
