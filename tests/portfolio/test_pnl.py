"""The P&L arithmetic: hand-worked cases and hypothesis properties over random fill sequences."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.pnl import (
    Ledger,
    MarketPnl,
    Trade,
    build_ledger,
    event_payoffs,
    mark_from_quote,
    max_loss,
)


def buy_yes(count: str, price: str, fee: str = "0", ticker: str = "T") -> Trade:
    return Trade(ticker, "bid", D(price), D(count), D(fee))


def buy_no(count: str, no_price: str, fee: str = "0", ticker: str = "T") -> Trade:
    return Trade(ticker, "ask", 1 - D(no_price), D(count), D(fee))


def test_it_opens_a_yes_position_at_its_cost():
    m = MarketPnl("T")
    m.apply(buy_yes("10", "0.40", "0.17"))
    assert (m.position, m.cost, m.realized, m.fees, m.average_cost) == (
        D(10),
        D("4.00"),
        0,
        D("0.17"),
        D("0.40"),
    )


def test_selling_part_of_a_position_realizes_against_the_average_cost():
    m = MarketPnl("T")
    m.apply(buy_yes("10", "0.40"))
    m.apply(buy_yes("10", "0.50"))  # average 0.45
    m.apply(buy_no("5", "0.40"))  # = sell 5 YES at 0.60
    assert m.position == D(15)
    assert m.realized == D("0.75")  # 5 × (0.60 − 0.45)
    assert m.cost == D("6.75")


def test_a_flip_closes_the_whole_position_and_opens_the_rest_on_the_other_leg():
    m = MarketPnl("T")
    m.apply(buy_yes("4", "0.30"))
    m.apply(buy_no("10", "0.60"))  # sells 4 YES at 0.40, opens 6 NO at 0.60
    assert m.position == D(-6)
    assert m.realized == D("0.40")  # 4 × (0.40 − 0.30)
    assert m.cost == D("3.60")
    assert m.average_cost == D("0.60")


def test_settlement_pays_the_winning_leg_and_realizes_against_the_basis():
    m = MarketPnl("T")
    m.apply(buy_no("6", "0.60"))
    assert m.settle("no") == D(6)
    assert (m.position, m.cost, m.realized) == (0, 0, D("2.40"))


def test_a_scalar_settlement_pays_the_value_per_yes_and_the_rest_per_no():
    yes, no = MarketPnl("A"), MarketPnl("B")
    yes.apply(buy_yes("10", "0.40"))
    no.apply(buy_no("4", "0.50"))
    assert yes.settle("scalar", D("0.37")) == D("3.70")
    assert (yes.position, yes.cost, yes.realized, yes.settled) == (0, 0, D("-0.30"), "scalar")
    assert no.settle("scalar", D("0.37")) == D("2.52")  # 4 × 0.63
    assert no.realized == D("0.52")


def test_a_scalar_settlement_without_a_value_in_range_is_refused():
    m = MarketPnl("T")
    m.apply(buy_yes("1", "0.50"))
    for bad in (None, D("1.01"), D("-0.01")):
        try:
            m.settle("scalar", bad)
        except ValueError as exc:
            assert "YES value" in str(exc)
        else:
            raise AssertionError(f"settled a scalar market at {bad!r}")
    assert m.position == 1  # nothing half-applied


def test_unrealized_marks_yes_at_the_price_and_no_at_its_complement():
    yes, no = MarketPnl("A"), MarketPnl("B")
    yes.apply(buy_yes("10", "0.31"))
    no.apply(buy_no("10", "0.62"))
    assert yes.unrealized_at(D("0.43")) == D("1.20")
    assert no.unrealized_at(D("0.45")) == D("-0.70")  # NO worth 0.55
    assert yes.unrealized_at(None) is None


def test_the_mark_is_the_mid_or_else_the_last_trade():
    assert mark_from_quote({"yes_bid": "0.42", "yes_ask": "0.44", "last_price": "0.40"}).price == D("0.43")
    one_sided = mark_from_quote({"yes_bid": "0.42", "yes_ask": None, "last_price": "0.40"})
    assert (one_sided.price, one_sided.source) == (D("0.40"), "last")
    assert mark_from_quote(None).price is None


def test_payoff_by_outcome_of_a_mutually_exclusive_event():
    cut, hold = MarketPnl("CUT"), MarketPnl("HOLD")
    cut.apply(buy_yes("1000", "0.31"))  # cost 310
    hold.apply(buy_no("500", "0.62"))  # cost 310
    outcomes = event_payoffs([cut, hold], {"CUT": "cut", "HOLD": "hold"}, include_other=True)
    assert [(o.label, o.payoff) for o in outcomes] == [
        ("cut", D("1000") + D("500") - D("620")),  # CUT yes pays 1000, HOLD no pays 500
        ("hold", D("0") - D("620")),
        ("any other outcome", D("500") - D("620")),
    ]
    assert max_loss([cut, hold], outcomes) == D("620")
    assert max_loss([cut, hold]) == D("620")
    # after fees: the fees paid in the held markets come off every outcome
    cut.apply(Trade("CUT", "bid", D("0.31"), D("10"), D("0.25")))
    paid = cut.fees + hold.fees
    outcomes = event_payoffs([cut, hold], {"CUT": "cut", "HOLD": "hold"}, include_other=False)
    assert paid > 0 and all(o.fees == paid and o.net == o.payoff - paid for o in outcomes)


prices = st.integers(min_value=1, max_value=99).map(lambda c: D(c) / 100)
counts = st.integers(min_value=1, max_value=500).map(lambda c: D(c) / 2)  # fractional contracts too
fees = st.integers(min_value=0, max_value=200).map(lambda c: D(c) / 100)
trades = st.lists(
    st.builds(Trade, st.sampled_from(["A", "B"]), st.sampled_from(["bid", "ask"]), prices, counts, fees),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(trades)
def test_position_is_the_signed_sum_of_the_fills(seq):
    ledger = build_ledger(seq)
    for ticker in ("A", "B"):
        expected = sum(
            (t.count if t.book_side == "bid" else -t.count for t in seq if t.ticker == ticker), D(0)
        )
        assert ledger.market(ticker).position == expected


@settings(max_examples=300, deadline=None)
@given(trades, st.sampled_from(["yes", "no"]))
def test_cash_is_conserved_exactly(seq, result):
    ledger = Ledger()
    for trade in seq:
        ledger.apply(trade)
        m = ledger.market(trade.ticker)
        assert m.cash == m.realized - m.cost - m.fees
        assert m.cost >= 0 and (m.cost == 0) == (m.position == 0)
    ledger.settle("A", result)
    a = ledger.market("A")
    assert a.cash == a.realized - a.fees and a.cost == 0


@settings(max_examples=200, deadline=None)
@given(trades, st.integers(min_value=0, max_value=100))
def test_a_scalar_settlement_realizes_each_contract_at_its_legs_value(seq, value_cents):
    # A YES contract ends up worth the value, a NO contract the rest of the dollar, whatever the fill order.
    value = D(value_cents) / 100
    ledger = build_ledger([*seq, ("A", "scalar", value), ("B", "scalar", value)])
    expected = sum((t.count * ((value if t.leg == "yes" else 1 - value) - t.price) for t in seq), D(0))
    assert ledger.realized == expected
    assert ledger.cash == expected - ledger.fees
    assert ledger.cost == 0 and not ledger.open_positions()


@settings(max_examples=300, deadline=None)
@given(trades, st.sampled_from(["yes", "no"]))
def test_realized_after_settlement_does_not_depend_on_the_order_of_the_fills(seq, result):
    # Every contract bought ends up worth 1 if its leg won, 0 otherwise (a YES+NO pair is worth 1 either way).
    ledger = build_ledger([*seq, ("A", result), ("B", result)])
    expected = sum(
        (t.count * ((1 if t.leg == result else 0) - t.price) for t in seq),
        D(0),
    )
    assert ledger.realized == expected
    assert ledger.cash == expected - ledger.fees
