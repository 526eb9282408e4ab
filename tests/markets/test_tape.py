"""The trade tape shows each trade's time in the project's time zone (KALSHIWEB_TIME_ZONE), whichever path
built the row: the feed's `trade` messages, or the REST first paint."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from kalshiweb.kalshi import messages as m
from markets.feed_state import FeedState
from markets.tape import trade_row

AT = datetime(2026, 7, 1, 15, 4, 5, tzinfo=UTC)  # 11:04:05 in New York (EDT)


def trade(ts: datetime) -> m.Trade:
    return m.Trade(
        sid=2,
        seq=1,
        trade_id="t1",
        market_ticker="KXA-1",
        yes_price=D("0.43"),
        no_price=D("0.57"),
        count=D("5"),
        taker_outcome_side="yes",
        taker_book_side="bid",
        is_block_trade=False,
        ts=ts,
    )


def test_a_row_is_in_the_project_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    assert trade_row(D("0.43"), D("5"), "yes", AT, "t1") == {
        "price": "0.43",
        "count": "5",
        "side": "yes",
        "time": "11:04:05",
        "ts": f"{AT.timestamp():.3f}",  # for the chart's live candle (epoch seconds, any time zone)
        "id": "t1",
    }


def test_the_feeds_trades_are_in_the_project_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    state = FeedState()
    state.watch("KXA-1")
    state.apply(trade(AT))
    assert state.markets["KXA-1"].trades[0]["time"] == "11:04:05"
    assert state.markets["KXA-1"].trades[0]["id"] == "t1"  # the chart counts each trade once


def test_in_utc_the_time_is_the_exchanges(settings):
    settings.TIME_ZONE = "UTC"
    state = FeedState()
    state.watch("KXA-1")
    state.apply(trade(AT))
    assert state.markets["KXA-1"].trades[0]["time"] == "15:04:05"
