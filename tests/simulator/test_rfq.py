"""The simulator's combos and RFQs (issue #15, item 9): the bot quotes on the next tick, an accepted quote trades
through the book exactly once, a requester who cannot pay leaves nothing behind, the money adds up."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from kalshiweb.simulator.engine import ExchangeError
from kalshiweb.simulator.events import CommsEvent
from kalshiweb.simulator.rfq import COLLECTION, QUOTER

from .test_engine import NOW, T, make_exchange


def combo_exchange():
    ex = make_exchange()
    from kalshiweb.simulator.engine import Market

    ex.add_market(
        Market(
            ticker="KXTEST-26NOV24-T2", event_ticker="KXTEST-26NOV24", series_ticker="KXTEST", title="Second",
            yes_sub_title="Y", no_sub_title="N", open_time=NOW - timedelta(hours=1), close_time=NOW + timedelta(hours=2),
        )
    )  # fmt: skip
    legs = [
        {"market_ticker": T, "event_ticker": "KXTEST-26NOV24", "side": "yes"},
        {"market_ticker": "KXTEST-26NOV24-T2", "event_ticker": "KXTEST-26NOV24", "side": "no"},
    ]
    combo = ex.communications.create_combo("alice", COLLECTION, legs)
    return ex, combo


def test_the_bot_quotes_on_the_next_tick_and_an_accepted_quote_trades_once() -> None:
    ex, combo = combo_exchange()
    assert combo.fair_value == D("0.25")  # 0.5 x (1 - 0.5)
    events: list[object] = []
    ex.add_listener(events.append)
    rfq = ex.communications.create_rfq(
        "alice", market_ticker=combo.ticker, contracts=D(10), target_cost=None, rest_remainder=False
    )
    assert ex.communications.quotes == {}
    ex.advance(NOW + timedelta(seconds=1))
    (quote,) = ex.communications.quotes.values()
    assert quote.user_id == QUOTER and (quote.yes_bid, quote.no_bid) == (D("0.22"), D("0.72"))
    ex.communications.accept("alice", quote.id, "yes")
    with pytest.raises(ExchangeError):
        ex.communications.accept("alice", quote.id, "yes")
    ex.advance(NOW + timedelta(seconds=2))  # the bot confirms
    assert quote.status == "executed" and rfq.status == "closed"
    alice = ex.account("alice")
    assert alice.positions[combo.ticker].position == D(10)
    assert alice.positions[combo.ticker].cost == D("2.80")  # 10 x (1 - 0.72)
    assert ex.account(QUOTER).positions[combo.ticker].position == D(-10)
    kinds = [e.msg_type for e in events if isinstance(e, CommsEvent)]
    assert kinds == ["rfq_created", "quote_created", "quote_accepted", "quote_executed", "quote_executed"]
    ex.advance(NOW + timedelta(seconds=3))
    assert len(alice.fills) == 1  # nothing traded twice
    ex.check_invariants()


def test_a_requester_who_cannot_pay_leaves_no_order_behind() -> None:
    ex, combo = combo_exchange()
    ex.add_account("poor", D("1"))
    ex.communications.create_rfq(
        "poor", market_ticker=combo.ticker, contracts=D(100), target_cost=None, rest_remainder=False
    )
    ex.advance(NOW + timedelta(seconds=1))
    (quote,) = ex.communications.quotes.values()
    ex.communications.accept("poor", quote.id, "yes")
    ex.advance(NOW + timedelta(seconds=2))
    assert quote.status == "cancelled" and "execution failed" in quote.cancellation_reason
    assert ex.account(QUOTER).open_orders == {}
    assert ex.account("poor").balance == D("1")
    ex.check_invariants()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"contracts": D(0)}, "positive"),
        ({"contracts": D("1.005")}, "positive"),
        ({"contracts": None}, "required"),
        ({"rest_remainder": None}, "rest_remainder"),
    ],
)
def test_bad_rfqs_are_refused(kwargs: dict, message: str) -> None:
    ex, combo = combo_exchange()
    args = {
        "market_ticker": combo.ticker,
        "contracts": D(1),
        "target_cost": None,
        "rest_remainder": False,
        **kwargs,
    }
    with pytest.raises(ExchangeError, match=message):
        ex.communications.create_rfq("alice", **args)
    assert ex.communications.rfqs == {}


def test_only_the_requester_accepts_and_only_the_quoter_confirms() -> None:
    ex, combo = combo_exchange()
    rfq = ex.communications.create_rfq(
        "alice", market_ticker=combo.ticker, contracts=D(1), target_cost=None, rest_remainder=False
    )
    quote = ex.communications.create_quote(
        "bob", rfq_id=rfq.id, yes_bid=D("0.20"), no_bid=D("0.70"), rest_remainder=False
    )
    with pytest.raises(ExchangeError, match="not found"):
        ex.communications.accept("charlie", quote.id, "yes")
    with pytest.raises(ExchangeError, match="own RFQ"):
        ex.communications.create_quote(
            "alice", rfq_id=rfq.id, yes_bid=D("0.2"), no_bid=D("0.7"), rest_remainder=False
        )
    ex.communications.accept("alice", quote.id, "no")
    with pytest.raises(ExchangeError, match="not found"):
        ex.communications.confirm("alice", quote.id)
    ex.communications.confirm("bob", quote.id)
    assert ex.account("alice").positions[combo.ticker].position == D(-1)  # alice bought NO at 1 - 0.20
    assert ex.account("bob").positions[combo.ticker].position == D(1)
    ex.check_invariants()
