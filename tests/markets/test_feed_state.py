from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from kalshiweb.kalshi import messages as m
from markets.feed_state import FeedState
from markets.publish import book_context

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def snapshot(
    ticker="KXA-1", seq=1, yes=((D("0.40"), D("100")), (D("0.42"), D("250"))), no=((D("0.56"), D("300")),)
):
    return m.OrderbookSnapshot(sid=1, seq=seq, market_ticker=ticker, market_id="id", yes=yes, no=no)


def delta(price, change, side="yes", seq=2, ticker="KXA-1"):
    return m.OrderbookDelta(
        sid=1, seq=seq, market_ticker=ticker, market_id="id", price=D(price), delta=D(change), side=side
    )


def test_it_builds_a_quote_from_snapshot_and_deltas():
    state = FeedState()
    state.watch("KXA-1")
    state.apply(snapshot())
    state.apply(delta("0.43", "10"))
    quote = state.markets["KXA-1"].quote()
    assert quote["yes_bid"] == "0.43"
    assert quote["yes_ask"] == "0.44"
    assert quote["no_ask"] == "0.57"
    assert state.take_dirty() == ["KXA-1"]
    assert state.take_dirty() == []


def test_it_ignores_markets_nobody_watches():
    state = FeedState()
    state.apply(snapshot(ticker="KXB-2"))
    assert state.markets == {} and state.take_dirty() == []


def test_a_delta_on_a_stale_book_is_refused_until_a_snapshot_arrives():
    state = FeedState()
    state.watch("KXA-1")
    state.apply(snapshot())
    state.mark_stale(["KXA-1"], "gap")
    state.apply(delta("0.45", "10"))
    live = state.markets["KXA-1"]
    assert live.book.stale and state.protocol_errors == 1
    assert live.book.best_yes_bid == D("0.42")  # the delta was not applied across the gap
    state.apply(snapshot(seq=5))
    assert not live.book.stale


def test_a_delta_that_drives_a_level_negative_marks_the_book_stale():
    state = FeedState()
    state.watch("KXA-1")
    state.apply(snapshot())
    state.apply(delta("0.42", "-999"))
    assert state.markets["KXA-1"].book.stale
    assert state.markets["KXA-1"].quote()["stale"] is True


def test_trades_keep_the_newest_first_and_set_the_last_price():
    state = FeedState()
    state.watch("KXA-1")
    for i in range(40):
        state.apply(
            m.Trade(
                sid=2,
                seq=i + 1,
                trade_id=str(i),
                market_ticker="KXA-1",
                yes_price=D("0.43"),
                no_price=D("0.57"),
                count=D(i + 1),
                taker_outcome_side="yes",
                taker_book_side="bid",
                is_block_trade=False,
                ts=NOW,
            )
        )
    live = state.markets["KXA-1"]
    assert len(live.trades) == 30 and live.trades[0]["count"] == "40"
    assert live.quote()["last_price"] == "0.43"


def test_the_ladder_shows_yes_asks_from_no_bids_with_cumulative_sizes():
    view = book_context(
        [(D("0.42"), D("250")), (D("0.41"), D("800"))], [(D("0.56"), D("300")), (D("0.55"), D("420"))]
    )
    assert [row["price"] for row in view["asks"]] == ["0.45", "0.44"]
    assert view["asks"][-1]["total"] == "300"
    assert [row["total"] for row in view["bids"]] == ["250", "1050"]
    assert view["spread"] == "0.02"
