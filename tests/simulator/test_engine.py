from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from kalshiweb.simulator.engine import (
    GTC,
    IOC,
    BookDelta,
    Event,
    Exchange,
    ExchangeError,
    FillEvent,
    LifecycleEvent,
    Market,
    OrderUpdate,
    PositionUpdate,
    Series,
    TickerUpdate,
    TradeEvent,
)
from kalshiweb.simulator.grid import ranges_for

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
FOK = "fill_or_kill"


def make_exchange(**market_overrides: object) -> Exchange:
    ex = Exchange(seed=7, now=NOW, catalog=False)
    ex.add_series(Series("KXTEST", "Test series", "Economics"))
    ex.add_event(Event("KXTEST-26NOV24", "KXTEST", "Test event"))
    fields: dict[str, object] = dict(
        ticker="KXTEST-26NOV24-T1",
        event_ticker="KXTEST-26NOV24",
        series_ticker="KXTEST",
        title="Will the test pass?",
        yes_sub_title="Pass",
        no_sub_title="Fail",
        open_time=NOW - timedelta(hours=1),
        close_time=NOW + timedelta(hours=1),
    )
    fields.update(market_overrides)
    ex.add_market(Market(**fields))  # type: ignore[arg-type]
    for user in ("alice", "bob", "charlie"):
        ex.add_account(user)
    return ex


T = "KXTEST-26NOV24-T1"


def bid(ex: Exchange, user: str, price: str, count: str, tif: str = GTC, **kw: object):
    return ex.create_order(
        user, ticker=T, side="bid", count=D(count), price=D(price), time_in_force=tif, **kw
    )


def ask(ex: Exchange, user: str, price: str, count: str, tif: str = GTC, **kw: object):
    return ex.create_order(
        user, ticker=T, side="ask", count=D(count), price=D(price), time_in_force=tif, **kw
    )


@pytest.fixture
def ex() -> Exchange:
    return make_exchange()


def test_it_rests_a_bid_and_reserves_collateral(ex: Exchange) -> None:
    o = bid(ex, "alice", "0.40", "10")
    assert o.status == "resting"
    assert ex.book(T) == ([(D("0.40"), D("10"))], [])
    assert ex.account("alice").balance == D("10000") - D("4.00")
    assert o.reserved == D("4.00")
    ex.check_invariants()


def test_an_ask_rests_on_the_no_side_in_no_prices(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "3")
    assert ex.book(T) == ([], [(D("0.55"), D("3"))])
    assert ex.account("bob").balance == D("10000") - D("1.65")
    m = ex.get_market(T)
    assert (m.yes_ask, m.no_bid, m.yes_bid, m.no_ask) == (D("0.45"), D("0.55"), D("0"), D("1"))


def test_it_fills_a_crossing_bid_at_the_makers_price(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "10")  # NO bid at 0.55
    o = bid(ex, "alice", "0.50", "10")
    assert o.status == "executed"
    assert o.fill_count == D("10")
    (trade,) = ex.trades(T)
    assert trade.yes_price == D("0.45")
    assert trade.taker_book_side == "bid"
    fee = D("0.18")  # ceil(0.07 * 10 * 0.45 * 0.55 = 0.17325)
    assert o.taker_fees == fee
    assert ex.account("alice").balance == D("10000") - D("4.50") - fee
    assert ex.account("alice").positions[T].position == D("10")
    assert ex.account("bob").positions[T].position == D("-10")
    assert ex.book(T) == ([], [])
    assert ex.fees_collected == fee
    ex.check_invariants()


def test_a_partial_fill_leaves_the_rest_of_the_taker_resting(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "4")
    o = bid(ex, "alice", "0.47", "10")
    assert (o.status, o.fill_count, o.remaining_count) == ("resting", D("4"), D("6"))
    assert ex.book(T) == ([(D("0.47"), D("6"))], [])
    ex.check_invariants()


def test_a_partial_fill_leaves_the_rest_of_the_maker_resting(ex: Exchange) -> None:
    maker = ask(ex, "bob", "0.45", "10")
    bid(ex, "alice", "0.45", "4")
    assert (maker.status, maker.fill_count, maker.remaining_count) == ("resting", D("4"), D("6"))
    assert maker.reserved == D("6") * D("0.55")
    ex.check_invariants()


def test_it_matches_best_price_first_then_time(ex: Exchange) -> None:
    first = ask(ex, "bob", "0.46", "5")
    second = ask(ex, "charlie", "0.46", "5")
    better = ask(ex, "charlie", "0.44", "5")
    bid(ex, "alice", "0.50", "8")
    assert better.status == "executed"
    assert first.fill_count == D("3")
    assert second.fill_count == D("0")
    prices = [t.yes_price for t in reversed(ex.trades(T))]
    assert prices == [D("0.44"), D("0.46")]


def test_ioc_cancels_the_unfilled_remainder(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "4")
    o = bid(ex, "alice", "0.45", "10", tif=IOC)
    assert (o.status, o.fill_count, o.remaining_count) == ("canceled", D("4"), D("0"))
    assert ex.book(T) == ([], [])
    ex.check_invariants()


def test_fok_fills_completely_or_does_nothing(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "4")
    o = bid(ex, "alice", "0.45", "10", tif=FOK)
    assert o.status == "canceled" and o.fill_count == 0
    assert ex.book(T) == ([], [(D("0.55"), D("4"))])
    assert ex.account("alice").balance == D("10000")
    o2 = bid(ex, "alice", "0.45", "4", tif=FOK)
    assert o2.status == "executed"
    ex.check_invariants()


def test_post_only_that_would_cross_is_canceled(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "4")
    o = bid(ex, "alice", "0.45", "10", post_only=True)
    assert (o.status, o.last_update_reason, o.fill_count) == ("canceled", "PostOnlyCrossCancel", D("0"))
    assert bid(ex, "alice", "0.44", "10", post_only=True).status == "resting"


def test_reduce_only_requires_ioc(ex: Exchange) -> None:
    with pytest.raises(ExchangeError) as err:
        bid(ex, "alice", "0.45", "1", reduce_only=True)
    assert err.value.http_status == 400


def test_reduce_only_is_capped_at_the_position(ex: Exchange) -> None:
    ask(ex, "bob", "0.40", "5")
    bid(ex, "alice", "0.40", "5")  # alice long 5 YES
    bid(ex, "charlie", "0.38", "20")  # someone to sell into
    o = ask(ex, "alice", "0.38", "20", tif=IOC, reduce_only=True)
    assert o.initial_count == D("5")
    assert o.fill_count == D("5")
    assert ex.account("alice").positions[T].position == 0
    ex.check_invariants()


def test_reduce_only_without_a_position_to_reduce_is_canceled(ex: Exchange) -> None:
    o = ask(ex, "alice", "0.38", "20", tif=IOC, reduce_only=True)
    assert (o.status, o.last_update_reason) == ("canceled", "ReduceOnlyCancel")


def test_taker_at_cross_stp_cancels_the_incoming_order_after_earlier_fills(ex: Exchange) -> None:
    ask(ex, "bob", "0.44", "3")
    own = ask(ex, "alice", "0.45", "5")
    o = bid(ex, "alice", "0.50", "10")
    assert (o.status, o.fill_count, o.last_update_reason) == ("canceled", D("3"), "SelfTradeCancel")
    assert own.status == "resting"
    ex.check_invariants()


def test_maker_stp_cancels_the_resting_own_order_and_continues(ex: Exchange) -> None:
    own = ask(ex, "alice", "0.44", "5")
    ask(ex, "bob", "0.45", "5")
    o = bid(ex, "alice", "0.50", "5", self_trade_prevention_type="maker")
    assert (own.status, own.last_update_reason) == ("canceled", "SelfTradeCancel")
    assert (o.status, o.fill_count) == ("executed", D("5"))
    assert ex.trades(T)[0].yes_price == D("0.45")
    ex.check_invariants()


def test_gtt_orders_expire_when_the_clock_passes_their_expiration(ex: Exchange) -> None:
    exp = int((NOW + timedelta(minutes=5)).timestamp())
    o = bid(ex, "alice", "0.40", "10", expiration_time=exp)
    ex.advance(NOW + timedelta(minutes=4))
    assert o.status == "resting"
    ex.advance(NOW + timedelta(minutes=5))
    assert (o.status, o.last_update_reason) == ("canceled", "ExpiryCancel")
    assert ex.account("alice").balance == D("10000")
    assert ex.book(T) == ([], [])


def test_it_rejects_an_expiration_in_the_past_or_with_ioc(ex: Exchange) -> None:
    with pytest.raises(ExchangeError):
        bid(ex, "alice", "0.40", "1", expiration_time=int(NOW.timestamp()))
    with pytest.raises(ExchangeError):
        bid(ex, "alice", "0.40", "1", tif=IOC, expiration_time=int(NOW.timestamp()) + 60)


@pytest.mark.parametrize("price", ["0.405", "0", "1", "1.01", "-0.01", "abc"])
def test_it_rejects_an_off_grid_price(ex: Exchange, price: str) -> None:
    with pytest.raises(ExchangeError) as err:
        ex.create_order("alice", ticker=T, side="bid", count=D("1"), price=price, time_in_force=GTC)  # type: ignore[arg-type]
    assert err.value.http_status == 400
    assert ex.book(T) == ([], [])


def test_it_accepts_a_sub_penny_price_on_a_deci_cent_market() -> None:
    ex = make_exchange(price_level_structure="deci_cent", price_ranges=ranges_for("deci_cent"))
    o = bid(ex, "alice", "0.405", "10")
    assert o.status == "resting"
    with pytest.raises(ExchangeError):
        bid(ex, "alice", "0.4055", "10")


def test_tapered_deci_cent_allows_sub_pennies_only_at_the_edges() -> None:
    ex = make_exchange(
        price_level_structure="tapered_deci_cent", price_ranges=ranges_for("tapered_deci_cent")
    )
    assert bid(ex, "alice", "0.055", "1").status == "resting"
    assert bid(ex, "alice", "0.955", "1").status == "resting"
    with pytest.raises(ExchangeError):
        bid(ex, "alice", "0.505", "1")


@pytest.mark.parametrize("count", ["0", "-1", "0.001", "1.005"])
def test_it_rejects_a_bad_count(ex: Exchange, count: str) -> None:
    with pytest.raises(ExchangeError) as err:
        bid(ex, "alice", "0.40", count)
    assert err.value.code == "invalid_order_size"


def test_fractional_counts_are_allowed(ex: Exchange) -> None:
    assert bid(ex, "alice", "0.40", "2.5").remaining_count == D("2.5")


def test_it_rejects_an_order_the_balance_cannot_cover(ex: Exchange) -> None:
    ex.add_account("dave", D("3"))
    with pytest.raises(ExchangeError) as err:
        bid(ex, "dave", "0.40", "10")
    assert (err.value.http_status, err.value.code) == (400, "available_balance_too_low")
    assert ex.account("dave").balance == D("3")
    assert bid(ex, "dave", "0.30", "10").status == "resting"


def test_the_taker_fee_counts_towards_the_balance_check(ex: Exchange) -> None:
    ask(ex, "bob", "0.50", "10")
    ex.add_account("dave", D("5.00"))
    with pytest.raises(ExchangeError):
        bid(ex, "dave", "0.50", "10")  # 5.00 + fee 0.18
    ex.add_account("erin", D("5.18"))
    assert bid(ex, "erin", "0.50", "10").status == "executed"
    assert ex.account("erin").balance == 0


def test_it_rejects_a_duplicate_client_order_id(ex: Exchange) -> None:
    bid(ex, "alice", "0.40", "1", client_order_id="c-1")
    with pytest.raises(ExchangeError) as err:
        bid(ex, "alice", "0.41", "1", client_order_id="c-1")
    assert (err.value.http_status, err.value.code) == (409, "order_already_exists")
    assert bid(ex, "bob", "0.41", "1", client_order_id="c-1").status == "resting"
    assert ex.find_order_by_client_id("alice", "c-1").yes_price == D("0.40")


def test_unknown_markets_are_404(ex: Exchange) -> None:
    with pytest.raises(ExchangeError) as err:
        ex.create_order("alice", ticker="NOPE", side="bid", count=D(1), price=D("0.5"), time_in_force=GTC)
    assert err.value.http_status == 404


def test_bad_side_and_time_in_force_are_rejected(ex: Exchange) -> None:
    with pytest.raises(ExchangeError):
        ex.create_order("alice", ticker=T, side="yes", count=D(1), price=D("0.5"), time_in_force=GTC)
    with pytest.raises(ExchangeError):
        ex.create_order("alice", ticker=T, side="bid", count=D(1), price=D("0.5"), time_in_force="gtt")


def test_cancel_releases_collateral_and_reports_the_reduction(ex: Exchange) -> None:
    o = bid(ex, "alice", "0.40", "10")
    order, reduced = ex.cancel_order("alice", o.order_id)
    assert (order.status, reduced, order.remaining_count) == ("canceled", D("10"), D("0"))
    assert ex.account("alice").balance == D("10000")
    assert ex.book(T) == ([], [])
    with pytest.raises(ExchangeError):
        ex.cancel_order("alice", o.order_id)


def test_nobody_can_cancel_someone_elses_order(ex: Exchange) -> None:
    o = bid(ex, "alice", "0.40", "10")
    with pytest.raises(ExchangeError) as err:
        ex.cancel_order("bob", o.order_id)
    assert err.value.http_status == 404


def test_decrease_by_and_to(ex: Exchange) -> None:
    o = bid(ex, "alice", "0.40", "10")
    ex.decrease_order("alice", o.order_id, reduce_by=D("3"))
    assert o.remaining_count == D("7") and o.last_update_reason == "Decrease"
    ex.decrease_order("alice", o.order_id, reduce_to=D("2"))
    assert o.remaining_count == D("2")
    assert ex.account("alice").balance == D("10000") - D("0.80")
    ex.decrease_order("alice", o.order_id, reduce_to=D("0"))
    assert o.status == "canceled"
    assert ex.account("alice").balance == D("10000")


def test_amend_to_a_new_price_moves_the_order(ex: Exchange) -> None:
    o = bid(ex, "alice", "0.40", "10", client_order_id="a1")
    ex.amend_order(
        "alice", o.order_id, ticker=T, side="bid", price=D("0.42"), count=D("5"), updated_client_order_id="a2"
    )
    assert ex.book(T) == ([(D("0.42"), D("5"))], [])
    assert (o.yes_price, o.remaining_count, o.client_order_id) == (D("0.42"), D("5"), "a2")
    assert ex.find_order_by_client_id("alice", "a2") is o
    assert ex.account("alice").balance == D("10000") - D("2.10")
    ex.check_invariants()


def test_amend_that_crosses_trades(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "3")
    o = bid(ex, "alice", "0.40", "10")
    ex.amend_order("alice", o.order_id, ticker=T, side="bid", price=D("0.45"), count=D("10"))
    assert (o.fill_count, o.remaining_count) == (D("3"), D("7"))
    ex.check_invariants()


def test_amend_count_is_the_new_total_including_fills(ex: Exchange) -> None:
    ask(ex, "bob", "0.40", "4")
    o = bid(ex, "alice", "0.40", "10")
    ex.amend_order("alice", o.order_id, ticker=T, side="bid", price=D("0.40"), count=D("6"))
    assert (o.fill_count, o.remaining_count) == (D("4"), D("2"))
    with pytest.raises(ExchangeError):
        ex.amend_order("alice", o.order_id, ticker=T, side="bid", price=D("0.40"), count=D("4"))
    with pytest.raises(ExchangeError):
        ex.amend_order("alice", o.order_id, ticker=T, side="ask", price=D("0.40"), count=D("8"))


def test_amend_keeps_time_priority_when_only_shrinking(ex: Exchange) -> None:
    first = bid(ex, "alice", "0.40", "10")
    bid(ex, "charlie", "0.40", "10")
    ex.amend_order("alice", first.order_id, ticker=T, side="bid", price=D("0.40"), count=D("5"))
    ask(ex, "bob", "0.40", "5")
    assert first.status == "executed"


def test_cancel_all_cancels_every_resting_order_of_the_user(ex: Exchange) -> None:
    bid(ex, "alice", "0.40", "10")
    ask(ex, "alice", "0.60", "10")
    bid(ex, "bob", "0.30", "10")
    canceled = ex.cancel_all("alice")
    assert len(canceled) == 2
    assert ex.book(T) == ([(D("0.30"), D("10"))], [])
    assert ex.account("alice").balance == D("10000")


def test_buying_yes_against_a_no_position_nets_out_and_releases_collateral(ex: Exchange) -> None:
    bid(ex, "alice", "0.40", "10")
    ask(ex, "bob", "0.40", "10")  # bob: 10 NO at 0.60 (taker)
    bob = ex.account("bob")
    assert bob.positions[T].position == D("-10")
    ask(ex, "charlie", "0.50", "10")  # charlie rests NO at 0.50
    before = bob.balance
    bid(ex, "bob", "0.50", "10")  # bob buys YES at 0.50 -> closes his NO
    assert bob.positions[T].position == 0
    fee = D("0.18")
    assert bob.balance == before - D("5.00") - fee + D("10")
    assert bob.positions[T].realized_pnl == D("10") * (1 - D("0.50")) - D("6.00")
    assert ex.get_market(T).open_interest == D("10")
    ex.check_invariants()


def test_closing_the_market_cancels_resting_orders_and_rejects_new_ones(ex: Exchange) -> None:
    o = bid(ex, "alice", "0.40", "10")
    ex.advance(NOW + timedelta(hours=1))
    m = ex.get_market(T)
    assert m.status == "closed"
    assert (o.status, o.last_update_reason) == ("canceled", "CloseCancel")
    assert ex.account("alice").balance == D("10000")
    with pytest.raises(ExchangeError) as err:
        bid(ex, "alice", "0.40", "10")
    assert (err.value.http_status, err.value.code) == (400, "MARKET_INACTIVE")


def test_settlement_pays_the_winners(ex: Exchange) -> None:
    ask(ex, "bob", "0.30", "10")
    bid(ex, "alice", "0.30", "10")
    alice_before = ex.account("alice").balance
    ex.settle_market(T, "yes")
    m = ex.get_market(T)
    assert (m.status, m.result) == ("finalized", "yes")
    assert ex.account("alice").balance == alice_before + D("10")
    (s,) = ex.account("alice").settlements
    assert (s.revenue, s.yes_count, s.market_result, s.value) == (D("10"), D("10"), "yes", 100)
    (s_bob,) = ex.account("bob").settlements
    assert s_bob.revenue == 0 and s_bob.no_count == D("10")
    assert ex.account("alice").positions[T].realized_pnl == D("10") - D("3.00")
    assert m.open_interest == 0
    ex.check_invariants()


def test_advance_closes_determines_and_settles_over_time(ex: Exchange) -> None:
    m = ex.get_market(T)
    m.scheduled_result = "no"
    ask(ex, "bob", "0.30", "10")
    bid(ex, "alice", "0.30", "10")
    seen: list[LifecycleEvent] = []
    ex.add_listener(lambda e: seen.append(e) if isinstance(e, LifecycleEvent) else None)
    ex.advance(NOW + timedelta(hours=1))
    assert m.status == "closed"
    ex.advance(NOW + timedelta(hours=1, minutes=3))
    assert (m.status, m.result) == ("determined", "no")
    ex.advance(NOW + timedelta(hours=1, minutes=9))
    assert m.status == "finalized"
    assert [e.event_type for e in seen] == ["determined", "settled"]
    assert ex.account("bob").balance == D("10000") - D("7.00") + D("10")
    ex.check_invariants()


def test_pause_and_resume_emit_lifecycle_events(ex: Exchange) -> None:
    keep = bid(ex, "alice", "0.40", "1")
    drop = bid(ex, "alice", "0.41", "1", cancel_order_on_pause=True)
    seen: list[LifecycleEvent] = []
    ex.add_listener(lambda e: seen.append(e) if isinstance(e, LifecycleEvent) else None)
    ex.pause_market(T)
    with pytest.raises(ExchangeError):
        bid(ex, "alice", "0.40", "1")
    ex.resume_market(T)
    assert [e.event_type for e in seen] == ["deactivated", "activated"]
    assert keep.status == "resting"
    assert (drop.status, drop.last_update_reason) == ("canceled", "HaltCancel")


def test_a_match_emits_deltas_fills_orders_positions_trade_and_ticker_in_order(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "10", client_order_id="bob-1")
    events: list[object] = []
    ex.add_listener(events.append)
    bid(ex, "alice", "0.45", "4")
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "BookDelta",
        "FillEvent",
        "OrderUpdate",
        "PositionUpdate",
        "FillEvent",
        "OrderUpdate",
        "PositionUpdate",
        "TradeEvent",
        "TickerUpdate",
    ]
    delta = events[0]
    assert isinstance(delta, BookDelta)
    assert (delta.side, delta.price, delta.delta, delta.user_id, delta.client_order_id) == (
        "no",
        D("0.55"),
        D("-4"),
        "bob",
        "bob-1",
    )
    fills = [e for e in events if isinstance(e, FillEvent)]
    assert [(f.user_id, f.fill.is_taker) for f in fills] == [("bob", False), ("alice", True)]
    assert fills[0].fill.trade_id == fills[1].fill.trade_id
    assert fills[1].fill.post_position == D("4")
    assert isinstance(events[-2], TradeEvent) and isinstance(events[-1], TickerUpdate)
    assert all(
        isinstance(e, (PositionUpdate, OrderUpdate, FillEvent, BookDelta, TradeEvent, TickerUpdate))
        for e in events
    )


def test_resting_an_order_emits_a_delta_an_order_update_and_a_ticker(ex: Exchange) -> None:
    events: list[object] = []
    ex.add_listener(events.append)
    o = bid(ex, "alice", "0.40", "10", client_order_id="x")
    assert [type(e).__name__ for e in events] == ["BookDelta", "OrderUpdate", "TickerUpdate"]
    assert events[1].order is o  # type: ignore[attr-defined]
    events.clear()
    bid(ex, "bob", "0.30", "10")  # below the best bid: the ticker does not change
    assert [type(e).__name__ for e in events] == ["BookDelta", "OrderUpdate"]


def test_fills_and_trades_are_listed_newest_first(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "10")
    bid(ex, "alice", "0.45", "1")
    bid(ex, "alice", "0.45", "2")
    assert [f.count for f in ex.account("alice").fills] == [D("2"), D("1")]
    assert [t.count for t in ex.trades()] == [D("2"), D("1")]


def test_unknown_accounts_raise(ex: Exchange) -> None:
    with pytest.raises(ExchangeError) as err:
        ex.account("nobody")
    assert err.value.http_status == 404


def test_the_engine_does_not_move_without_activity() -> None:
    ex = Exchange(seed=1, now=NOW, catalog=True)
    before = {t: ex.book(t) for t in ex.markets}
    ex.advance(NOW + timedelta(seconds=30))
    assert {t: ex.book(t) for t in ex.markets} == before


def test_bots_move_books_and_trade_with_activity() -> None:
    ex = Exchange(seed=1, now=NOW, catalog=True, activity=5.0)
    trades_before = len(ex.trades())
    for i in range(1, 4):
        ex.advance(NOW + timedelta(seconds=20 * i))
    assert len(ex.trades()) > trades_before
    ex.check_invariants()


def test_the_catalog_is_deterministic_for_a_seed() -> None:
    a = Exchange(seed=5, now=NOW)
    b = Exchange(seed=5, now=NOW)
    assert list(a.markets) == list(b.markets)
    assert [m.market_id for m in a.markets.values()] == [m.market_id for m in b.markets.values()]
    assert all(a.book(t) == b.book(t) for t in a.markets)


def test_the_catalog_has_enough_variety() -> None:
    ex = Exchange(seed=0, now=NOW)
    open_markets = [m for m in ex.markets.values() if m.status == "active"]
    assert len(open_markets) >= 60
    assert len({m.event_ticker for m in open_markets}) >= 12
    assert len(ex.series) >= 4
    assert len({s.category for s in ex.series.values()}) >= 5
    assert {"closed", "finalized"} <= {m.status for m in ex.markets.values()}
    assert all(m.result in ("yes", "no") for m in ex.markets.values() if m.status == "finalized")
    assert {"linear_cent", "deci_cent", "tapered_deci_cent"} <= {
        m.price_level_structure for m in ex.markets.values()
    }
    assert any(e.mutually_exclusive for e in ex.events.values())
    assert any(not e.mutually_exclusive for e in ex.events.values())
    assert any(m.close_time <= NOW + timedelta(hours=1) for m in open_markets)
    assert all(m.yes_book and m.no_book for m in open_markets)
    assert all(
        o.user_id == "sim-mm"
        for m in open_markets
        for q in (*m.yes_book.values(), *m.no_book.values())
        for o in q
    )
    assert "KXHIGHNY-26NOV24" in ex.events
    assert sum(len(e.markets) for e in ex.events.values()) == len(ex.markets)
    assert all(t.startswith(e.event_ticker + "-") for e in ex.events.values() for t in e.markets)
    assert all(e.series_ticker in ex.series for e in ex.events.values())
    ex.check_invariants()


def test_the_catalog_closes_and_settles_markets_as_time_passes() -> None:
    ex = Exchange(seed=0, now=NOW)
    hourly = [
        m for m in ex.markets.values() if m.status == "active" and m.close_time <= NOW + timedelta(hours=1)
    ]
    ex.advance(NOW + timedelta(hours=1))
    ex.advance(NOW + timedelta(hours=1, minutes=5))
    ex.advance(NOW + timedelta(hours=1, minutes=15))
    assert all(m.status == "finalized" and m.result in ("yes", "no") for m in hourly)
    ex.check_invariants()


def test_candlesticks_summarise_trades_and_quotes(ex: Exchange) -> None:
    ask(ex, "bob", "0.45", "10")
    bid(ex, "alice", "0.40", "10")
    ex.advance(NOW + timedelta(minutes=1, seconds=10))
    bid(ex, "alice", "0.45", "4")
    ex.advance(NOW + timedelta(minutes=2, seconds=10))
    bid(ex, "alice", "0.45", "2")
    start = int(NOW.timestamp())
    candles = ex.candlesticks(T, start, start + 180, 1)
    assert [c["end_period_ts"] for c in candles] == [start, start + 60, start + 120, start + 180]
    c1, c2 = candles[2], candles[3]
    assert c1["volume_fp"] == "4.00" and c1["price"]["close_dollars"] == "0.4500"
    assert c1["open_interest_fp"] == "4.00"
    assert c2["price"]["previous_dollars"] == "0.4500"
    assert c2["open_interest_fp"] == "6.00"
    assert c1["yes_bid"]["close_dollars"] == "0.4000"
    assert c1["yes_ask"]["close_dollars"] == "0.4500"
    assert candles[1]["volume_fp"] == "0.00" and "open_dollars" not in candles[1]["price"]
    with pytest.raises(ExchangeError):
        ex.candlesticks(T, start, start + 60, 5)


def test_listing_a_ticker_twice_is_rejected(ex: Exchange) -> None:
    m = ex.get_market(T)
    with pytest.raises(ExchangeError) as err:
        ex.add_market(m)
    assert err.value.http_status == 409
