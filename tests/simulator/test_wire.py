from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from kalshi_python_sync.models import (
    EventData,
    EventPosition,
    Fill,
    GetBalanceResponse,
    GetMarketOrderbookResponse,
    Market,
    MarketCandlestick,
    MarketPosition,
    Order,
    Series,
    Settlement,
    Trade,
)

from kalshiweb.simulator import wire
from kalshiweb.simulator.engine import BookDelta, Exchange, LifecycleEvent
from kalshiweb.simulator.engine import Event as EventModel
from kalshiweb.simulator.engine import Market as MarketModel
from kalshiweb.simulator.engine import Series as SeriesModel
from tests.samples import SAMPLES
from tests.simulator.test_engine import NOW, T, ask, bid, make_exchange


@pytest.fixture
def traded() -> Exchange:
    """An exchange where alice bought 4 YES from bob, with resting orders on both sides."""
    ex = make_exchange(strike_type="greater", floor_strike=D("52.5"))
    ask(ex, "bob", "0.45", "10", client_order_id="bob-1")
    group = ex.order_groups.create("alice", D(100))
    bid(ex, "alice", "0.45", "4", client_order_id="alice-1", order_group_id=group.group_id)
    bid(ex, "charlie", "0.40", "7", expiration_time=int((NOW + timedelta(hours=1)).timestamp()) - 60)
    return ex


def parse(model: Any, data: dict[str, Any]) -> Any:
    """Parse with the official SDK model after a JSON round trip, and reject keys the model does not know."""
    data = json.loads(json.dumps(data))
    unknown = set(data) - set(model.model_fields)
    assert not unknown, f"{model.__name__} has no fields {unknown}"
    return model.from_dict(data)


def test_market_json_parses_with_the_sdk(traded: Exchange) -> None:
    m = traded.get_market(T)
    parsed = parse(Market, wire.market_json(m))
    assert parsed.ticker == T
    assert parsed.yes_ask_dollars == "0.4500"
    assert parsed.yes_bid_dollars == "0.4000"
    assert parsed.no_ask_dollars == "0.6000"
    assert parsed.last_price_dollars == "0.4500"
    assert parsed.volume_fp == "4.00"
    assert parsed.floor_strike == 52.5
    assert [r.to_dict() for r in parsed.price_ranges] == [
        {"start": "0.0000", "end": "1.0000", "step": "0.0100"}
    ]


def test_an_empty_book_shows_zero_bid_and_one_dollar_ask() -> None:
    ex = make_exchange()
    data = wire.market_json(ex.get_market(T))
    assert (data["yes_bid_dollars"], data["yes_ask_dollars"]) == ("0.0000", "1.0000")
    assert (data["no_bid_dollars"], data["no_ask_dollars"]) == ("0.0000", "1.0000")
    assert data["yes_bid_size_fp"] == "0.00"


def test_settled_markets_carry_result_and_settlement_value(traded: Exchange) -> None:
    traded.settle_market(T, "no")
    parsed = parse(Market, wire.market_json(traded.get_market(T)))
    assert (parsed.status, parsed.result, parsed.settlement_value_dollars) == ("finalized", "no", "0.0000")


def test_every_catalog_market_event_and_series_parses() -> None:
    ex = Exchange(seed=2, now=NOW)
    for m in ex.markets.values():
        parse(Market, wire.market_json(m))
    for e in ex.events.values():
        data = wire.event_json(e, [ex.markets[t] for t in e.markets])
        data.pop("available_on_brokers")  # deprecated, documented, not in the SDK model
        parsed = parse(EventData, data)
        assert parsed.markets
    for s in ex.series.values():
        parse(Series, wire.series_json(s, volume=D("12")))


def test_order_json_parses_with_the_sdk(traded: Exchange) -> None:
    for acct in traded.accounts.values():
        for o in acct.orders.values():
            parsed = parse(Order, wire.order_json(o))
            assert parsed.order_id == o.order_id
    alice = next(iter(traded.account("alice").orders.values()))
    data = wire.order_json(alice)
    assert data["status"] == "executed"
    assert data["taker_fill_cost_dollars"] == "1.800000"
    assert data["taker_fees_dollars"] == "0.070000"
    assert (data["book_side"], data["outcome_side"]) == ("bid", "yes")


def test_fill_trade_and_position_json_parse_with_the_sdk(traded: Exchange) -> None:
    for acct in traded.accounts.values():
        for f in acct.fills:
            parse(Fill, wire.fill_json(f))
        for p in acct.positions.values():
            parse(MarketPosition, wire.market_position_json(p))
        parse(EventPosition, wire.event_position_json("KXTEST-26NOV24", acct.positions.values()))
    for t in traded.trades():
        parsed = parse(Trade, wire.trade_json(t))
        assert (parsed.yes_price_dollars, parsed.no_price_dollars, parsed.count_fp) == (
            "0.4500",
            "0.5500",
            "4.00",
        )
        assert (parsed.taker_outcome_side, parsed.taker_book_side.value) == ("yes", "bid")


def test_settlement_json_parses_with_the_sdk(traded: Exchange) -> None:
    traded.settle_market(T, "yes")
    (s,) = traded.account("alice").settlements
    parsed = parse(Settlement, wire.settlement_json(s))
    assert (parsed.revenue, parsed.yes_count_fp, parsed.market_result) == (400, "4.00", "yes")


def test_balance_json_parses_with_the_sdk(traded: Exchange) -> None:
    parsed = parse(GetBalanceResponse, wire.balance_json(traded.account("alice")))
    assert parsed.balance == 999813  # 10000 - 1.80 - 0.07 fee, in cents
    assert parsed.balance_dollars == "9998.1300"


def test_orderbook_fp_json_parses_and_honours_depth(traded: Exchange) -> None:
    bid(traded, "charlie", "0.30", "2")
    yes, no = traded.book(T)
    data = {"orderbook_fp": wire.orderbook_fp_json(yes, no)}
    parsed = parse(GetMarketOrderbookResponse, data)
    assert parsed.orderbook_fp.yes_dollars == [["0.3000", "2.00"], ["0.4000", "7.00"]]
    assert parsed.orderbook_fp.no_dollars == [["0.5500", "6.00"]]
    assert wire.orderbook_fp_json(yes, no, depth=1)["yes_dollars"] == [["0.4000", "7.00"]]


def test_candlesticks_parse_with_the_sdk() -> None:
    ex = Exchange(seed=3, now=NOW)
    ticker = next(t for t, m in ex.markets.items() if m.status == "active")
    start = int((NOW - timedelta(hours=4)).timestamp())
    for period in (1, 60, 1440):
        candles = ex.candlesticks(ticker, start, int(NOW.timestamp()), period)
        assert candles
        for c in candles:
            parse(MarketCandlestick, c)
    assert any(c["price"] for c in ex.candlesticks(ticker, start, int(NOW.timestamp()), 60))


def test_sub_penny_prices_keep_four_decimals() -> None:
    ex = Exchange(seed=1, now=NOW)
    m = next(m for m in ex.markets.values() if m.price_level_structure == "deci_cent")
    data = wire.market_json(m)
    assert data["price_ranges"] == [{"start": "0.0000", "end": "1.0000", "step": "0.0010"}]
    assert len(data["yes_bid_dollars"].split(".")[1]) == 4


# ------------------------------------------------------------------------------------------ WS shapes


def _sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"ws_msg_{name}.json").read_text())["msg"]


NUMBERS_ANY = {"floor_strike", "cap_strike"}


def assert_same_shape(ours: Any, sample: Any, optional: set[str], path: str = "msg") -> None:
    """Same keys (modulo documented optional ones) and the same JSON types, recursively."""
    ours = json.loads(json.dumps(ours))
    if isinstance(sample, dict):
        assert isinstance(ours, dict), path
        missing = {k for k in sample if k not in ours and k not in optional}
        extra = {k for k in ours if k not in sample and k not in optional}
        assert not missing, f"{path}: missing {missing}"
        assert not extra, f"{path}: unexpected {extra}"
        for k in sample.keys() & ours.keys():
            if k in NUMBERS_ANY:
                assert isinstance(ours[k], (int, float)) and not isinstance(ours[k], bool), f"{path}.{k}"
                continue
            assert_same_shape(ours[k], sample[k], optional, f"{path}.{k}")
    elif isinstance(sample, list):
        assert isinstance(ours, list), path
        for item in ours:
            assert_same_shape(item, sample[0], optional, f"{path}[]")
    else:
        assert type(ours) is type(sample), f"{path}: {type(ours).__name__} != {type(sample).__name__}"


def test_ws_orderbook_snapshot_has_the_official_shape(traded: Exchange) -> None:
    m = traded.get_market(T)
    yes, no = traded.book(T)
    msg = wire.ws_orderbook_snapshot_msg(m, yes, no)
    assert_same_shape(msg, _sample("orderbook_snapshot"), set())
    assert msg["no_dollars_fp"] == [["0.5500", "6.00"]]
    assert wire.ws_orderbook_snapshot_msg(m, yes, no, use_yes_price=True)["no_dollars_fp"] == [
        ["0.4500", "6.00"]
    ]


def test_ws_orderbook_snapshot_omits_empty_sides() -> None:
    ex = make_exchange()
    msg = wire.ws_orderbook_snapshot_msg(ex.get_market(T), [], [])
    assert set(msg) == {"market_ticker", "market_id"}


def test_ws_orderbook_delta_has_the_official_shape(traded: Exchange) -> None:
    m = traded.get_market(T)
    ev = BookDelta(T, "no", D("0.55"), D("-4"), "bob", "bob-1")
    sample = _sample("orderbook_delta")
    msg = wire.ws_orderbook_delta_msg(m, ev, NOW)
    assert_same_shape(msg, sample, set())
    assert (msg["price_dollars"], msg["delta_fp"], msg["side"]) == ("0.5500", "-4.00", "no")
    mine = wire.ws_orderbook_delta_msg(m, ev, NOW, use_yes_price=True, viewer_user_id="bob")
    assert_same_shape(mine, sample, {"client_order_id", "subaccount"})
    assert (mine["client_order_id"], mine["price_dollars"]) == ("bob-1", "0.4500")
    assert mine["ts_ms"] == int(NOW.timestamp()) * 1000
    assert wire.ws_orderbook_delta_msg(m, ev, int(NOW.timestamp()) * 1000)["ts"] == "2026-11-24T14:00:00Z"


def test_ws_ticker_has_the_official_shape(traded: Exchange) -> None:
    msg = wire.ws_ticker_msg(traded.get_market(T), NOW)
    assert_same_shape(msg, _sample("ticker"), set())
    assert (msg["yes_bid_dollars"], msg["yes_ask_dollars"], msg["price_dollars"]) == (
        "0.4000",
        "0.4500",
        "0.4500",
    )


def test_ws_trade_has_the_official_shape(traded: Exchange) -> None:
    assert_same_shape(wire.ws_trade_msg(traded.trades()[0]), _sample("trade"), set())


def test_ws_fill_has_the_official_shape(traded: Exchange) -> None:
    sample = _sample("fill")
    for user in ("alice", "bob"):
        fill = traded.account(user).fills[0]
        order = traded.orders[fill.order_id]
        msg = wire.ws_fill_msg(fill, order)
        assert_same_shape(msg, sample, {"client_order_id", "subaccount"})
    fill = traded.account("alice").fills[0]
    msg = wire.ws_fill_msg(fill, traded.orders[fill.order_id])
    assert (msg["post_position_fp"], msg["fee_cost"], msg["is_taker"]) == ("4.00", "0.070000", True)


def test_ws_user_order_has_the_official_shape(traded: Exchange) -> None:
    optional = {
        "order_group_id",
        "self_trade_prevention_type",
        "last_update_time",
        "last_updated_ts_ms",
        "last_update_reason",
        "expiration_time",
        "expiration_ts_ms",
        "subaccount_number",
        "created_time",
    }
    sample = _sample("user_order")
    for o in traded.orders.values():
        assert_same_shape(wire.ws_user_order_msg(o), sample, optional)
    gtt = next(o for o in traded.orders.values() if o.expiration_time)
    full = wire.ws_user_order_msg(gtt)
    assert {"expiration_time", "expiration_ts_ms", "created_ts_ms"} <= set(full)


def test_ws_market_position_has_the_official_shape(traded: Exchange) -> None:
    pos = traded.account("bob").positions[T]
    msg = wire.ws_market_position_msg(pos, "bob")
    assert_same_shape(msg, _sample("market_position"), {"subaccount"})
    assert (msg["position_fp"], msg["position_cost_dollars"]) == ("-4.00", "2.2000")


def test_ws_market_lifecycle_created_has_the_official_shape() -> None:
    ex = Exchange(seed=0, now=NOW, catalog=False)
    created: list[LifecycleEvent] = []
    ex.add_listener(lambda e: created.append(e) if isinstance(e, LifecycleEvent) else None)
    ex.add_series(SeriesModel("INXD", "S&P 500 daily return", "Financials"))
    ex.add_event(EventModel("INXD-23SEP14", "INXD", "S&P 500 daily return on Sep 14"))
    ex.add_market(
        MarketModel(
            ticker="INXD-23SEP14-B4487",
            event_ticker="INXD-23SEP14",
            series_ticker="INXD",
            title="S&P 500 closes up by 0.02% or more",
            yes_sub_title="S&P 500 closes up 0.02%+",
            no_sub_title="S&P 500 closes up <0.02%",
            open_time=NOW,
            close_time=NOW + timedelta(days=1),
            strike_type="greater",
            floor_strike=D("4487"),
            can_close_early=True,
        )
    )
    (ev,) = created
    msg = wire.ws_market_lifecycle_msg(ev)
    assert_same_shape(
        msg, _sample("market_lifecycle_v2_created"), {"price_ranges", "custom_strike", "cap_strike"}
    )
    assert (msg["event_type"], msg["additional_metadata"]["floor_strike"]) == ("created", 4487)


def test_ws_market_lifecycle_determined_and_settled(traded: Exchange) -> None:
    seen: list[LifecycleEvent] = []
    traded.add_listener(lambda e: seen.append(e) if isinstance(e, LifecycleEvent) else None)
    traded.settle_market(T, "yes")
    msgs = [wire.ws_market_lifecycle_msg(e) for e in seen]
    by_type = {m["event_type"]: m for m in msgs}
    assert by_type["determined"]["result"] == "yes"
    assert by_type["determined"]["settlement_value"] == "1.0000"
    assert isinstance(by_type["determined"]["determination_ts"], int)
    assert isinstance(by_type["settled"]["settled_ts"], int)


def test_ws_market_lifecycle_metadata_and_price_structure_updates_have_the_official_shape() -> None:
    ex = make_exchange()
    seen: list[LifecycleEvent] = []
    ex.add_listener(lambda e: seen.append(e) if isinstance(e, LifecycleEvent) else None)
    ex.update_market_metadata(T, strike_type="between", floor_strike=D("95000"), cap_strike=D("95250"))
    ex.update_market_metadata(T, yes_sub_title="above $95,000")
    ex.set_price_level_structure(T, "deci_cent")
    strike, subtitle, grid = (wire.ws_market_lifecycle_msg(e) for e in seen)
    assert_same_shape(strike, _sample("market_lifecycle_v2_metadata_updated_strike"), set())
    assert_same_shape(subtitle, _sample("market_lifecycle_v2_metadata_updated_subtitle"), set())
    assert_same_shape(grid, _sample("market_lifecycle_v2_price_level_structure_updated"), set())
    assert grid["price_ranges"] == [{"start": "0.0000", "end": "1.0000", "step": "0.0010"}]
    assert bid(ex, "alice", "0.405", "1").status == "resting"
    assert parse(Market, wire.market_json(ex.get_market(T))).yes_sub_title == "above $95,000"


def test_memoised_fixed_point_and_times_match_the_plain_formatting() -> None:
    """dollars/count_fp/rfc3339 memoise by value; the memo must never change what is printed."""
    from datetime import UTC, datetime, timezone
    from decimal import ROUND_HALF_EVEN

    def plain(d: Any, q: str) -> str:
        return str(D(d).quantize(D(q), rounding=ROUND_HALF_EVEN))

    values = [
        D("0.42"),
        D("0.420"),
        D("1"),
        1,
        D("0.00005"),
        D("0.00015"),
        D("-0"),
        D("0"),
        D("-0.42"),
        D("NaN"),
    ]
    for _ in range(2):  # the second pass reads the memo
        for v in values:
            assert wire.dollars(v) == plain(v, "0.0001")
            assert wire.dollars6(v) == plain(v, "0.000001")
            assert wire.count_fp(v) == plain(v, "0.01")
    assert wire.dollars(D("-0")) == "-0.0000" and wire.dollars(D("0")) == "0.0000"
    plus2 = timezone(timedelta(hours=2))
    at = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    for _ in range(2):
        assert wire.rfc3339(at) == "2026-03-01T12:00:00Z"
        assert wire.rfc3339(at.replace(microsecond=5)) == "2026-03-01T12:00:00.000005Z"
        assert wire.rfc3339(at.astimezone(plus2)) == "2026-03-01T12:00:00Z"


def test_market_json_reads_each_side_of_the_book_as_the_properties_do(traded: Exchange) -> None:
    m = traded.get_market(T)
    out = wire.market_json(m)
    assert out["yes_bid_dollars"] == wire.dollars(m.yes_bid)
    assert out["yes_bid_size_fp"] == wire.count_fp(m.yes_bid_size)
    assert out["yes_ask_dollars"] == wire.dollars(m.yes_ask)
    assert out["yes_ask_size_fp"] == wire.count_fp(m.yes_ask_size)
    assert out["no_bid_dollars"] == wire.dollars(m.no_bid)
    assert out["no_ask_dollars"] == wire.dollars(m.no_ask)
    empty = make_exchange().get_market(T)  # no orders: bid 0 / ask 1, sizes 0
    out = wire.market_json(empty)
    assert (out["yes_bid_dollars"], out["yes_ask_dollars"], out["no_bid_dollars"], out["no_ask_dollars"]) == (
        "0.0000",
        "1.0000",
        "0.0000",
        "1.0000",
    )
    assert out["expiration_time"] == out["latest_expiration_time"]
