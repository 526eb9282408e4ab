from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshiweb.kalshi.book import OrderBook
from kalshiweb.kalshi.errors import ProtocolError
from kalshiweb.kalshi.messages import parse_message
from kalshiweb.kalshi.models import Orderbook

from .conftest import load_sample

D = Decimal


def sample_book() -> OrderBook:
    rest = Orderbook.from_response("FED", load_sample("rest_get_market_orderbook_response.json"))
    return OrderBook.from_levels("FED", rest.yes, rest.no)


def test_best_prices_and_spread_follow_the_docs_example() -> None:
    book = sample_book()
    assert book.best_yes_bid == D("0.42")
    assert book.best_no_bid == D("0.56")
    assert book.best_yes_ask == D("0.44")
    assert book.best_no_ask == D("0.58")
    assert book.spread == D("0.02")
    assert not book.stale


def test_snapshot_then_delta_from_the_samples() -> None:
    snap = parse_message(load_sample("ws_msg_orderbook_snapshot.json"))
    book = OrderBook("FED-23DEC-T3.00")
    assert book.stale
    book.apply_snapshot(snap.yes, snap.no)
    book.apply_delta("yes", D("0.22"), D("-33.00"))
    book.apply_delta("no", D("0.60"), D("5.00"))
    book.apply_delta("yes", D("0.08"), D("-300.00"))
    assert book.levels() == (
        ((D("0.22"), D("300.00")),),
        ((D("0.54"), D("20.00")), (D("0.56"), D("146.00")), (D("0.60"), D("5.00"))),
    )
    assert book.best_yes_ask == D("0.40")


def test_use_yes_price_levels_are_converted_to_no_leg_prices() -> None:
    book = OrderBook.from_levels("X", [], [(D("0.44"), D("10"))], no_in_yes_prices=True)
    assert book.best_no_bid == D("0.56")
    book.apply_delta("no", D("0.44"), D("-10"), no_in_yes_prices=True)
    assert book.best_no_bid is None and book.best_yes_ask is None


def test_depth_is_best_first_with_cumulative_sizes() -> None:
    depth = sample_book().depth(3)
    assert [(lv.price, lv.size, lv.cumulative) for lv in depth["yes_bids"]] == [
        (D("0.42"), D("13.00"), D("13.00")),
        (D("0.41"), D("10.00"), D("23.00")),
        (D("0.35"), D("11.00"), D("34.00")),
    ]
    assert [lv.price for lv in depth["yes_asks"]] == [D("0.44"), D("0.55"), D("0.56")]
    assert depth["yes_asks"][2].cumulative == D("66.00")
    assert len(sample_book().depth(100)["no_bids"]) == 10


def test_cost_to_buy_walks_the_asks() -> None:
    est = sample_book().cost_to_buy("yes", D("30"))
    # 17 @ 0.44 + 13 @ 0.55
    assert est.fillable == D("30")
    assert est.total == D("17") * D("0.44") + D("13") * D("0.55")
    assert est.worst_price == D("0.55")
    assert est.average_price == (est.total / 30).quantize(D("0.000001"))
    assert est.complete


def test_cost_to_sell_walks_the_bids_and_reports_partial_fills() -> None:
    book = OrderBook.from_levels("X", [(D("0.40"), D("5")), (D("0.30"), D("5"))], [])
    est = book.cost_to_sell("yes", D("20"))
    assert est.fillable == D("10") and not est.complete
    assert est.total == D("3.5")
    empty = OrderBook.from_levels("X", [], []).cost_to_buy("no", D("1"))
    assert empty.fillable == 0 and empty.average_price is None


def test_a_delta_driving_a_level_negative_is_a_protocol_error_and_marks_the_book_stale() -> None:
    book = sample_book()
    with pytest.raises(ProtocolError):
        book.apply_delta("yes", D("0.42"), D("-14.00"))
    assert book.stale
    with pytest.raises(ProtocolError, match="stale"):
        book.apply_delta("yes", D("0.42"), D("1"))


def test_a_negative_delta_on_an_empty_level_is_a_protocol_error() -> None:
    book = sample_book()
    with pytest.raises(ProtocolError):
        book.apply_delta("no", D("0.99"), D("-1"))
    assert book.stale


deltas = st.lists(
    st.tuples(
        st.sampled_from(["yes", "no"]),
        st.integers(min_value=1, max_value=99).map(lambda c: D(c) / 100),
        st.integers(min_value=-500, max_value=500).map(lambda c: D(c) / 100),
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(deltas)
def test_random_deltas_match_a_naive_dict_model(ops: list[tuple[str, Decimal, Decimal]]) -> None:
    book = OrderBook.from_levels("X", [], [])
    model: dict[str, dict[Decimal, Decimal]] = {"yes": {}, "no": {}}
    for side, price, delta in ops:
        new = model[side].get(price, D(0)) + delta
        if new < 0:
            continue  # the exchange never sends these; covered by the negative-level test
        if new == 0:
            model[side].pop(price, None)
        else:
            model[side][price] = new
        book.apply_delta(side, price, delta)
    yes, no = book.levels()
    assert yes == tuple(sorted(model["yes"].items()))
    assert no == tuple(sorted(model["no"].items()))
    assert book.best_yes_bid == (max(model["yes"]) if model["yes"] else None)
    assert book.best_yes_ask == (1 - max(model["no"]) if model["no"] else None)


def _time_updates(levels: int, n: int = 20_000) -> float:
    """Seconds per update of existing levels near the top of a book with ``levels`` price levels."""
    prices = [D(i) / 10_000 for i in range(1, levels + 1)]
    book = OrderBook.from_levels("X", [(p, D(100)) for p in prices], [])
    top = prices[-50:]
    start = time.perf_counter()
    for i in range(n):
        p = top[i % 50]
        book.apply_delta("yes", p, D(1) if (i // 50) % 2 == 0 else D(-1))
    return (time.perf_counter() - start) / n


def test_delta_cost_does_not_grow_with_book_size() -> None:
    small = min(_time_updates(100) for _ in range(3))
    large = min(_time_updates(9_999) for _ in range(3))
    # O(1)/O(log n) per update: a 100x larger book must not be anywhere near 100x slower.
    assert large < small * 5, (small, large)


def test_adding_and_removing_levels_in_a_large_book_stays_fast() -> None:
    prices = [D(i) / 10_000 for i in range(1, 10_000, 2)]
    book = OrderBook.from_levels("X", [(p, D(1)) for p in prices], [])
    start = time.perf_counter()
    for i in range(2, 10_000, 2):
        p = D(i) / 10_000
        book.apply_delta("yes", p, D(1))
        book.apply_delta("yes", p, D(-1))
    per_op = (time.perf_counter() - start) / 10_000
    assert per_op < 50e-6, per_op
