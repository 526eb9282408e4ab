from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshiweb.kalshi.errors import ProtocolError
from kalshiweb.kalshi.messages import (
    CommunicationsMessage,
    ErrorMessage,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPositionUpdate,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Subscribed,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
    decode_message,
    parse_message,
)
from kalshiweb.kalshi.models import Orderbook, OrderRequest

from .conftest import load_sample, sample_names

CURRENT_MESSAGES = sample_names("ws_msg_*.json") + sample_names("ws_resp_*.json")
LEGACY_WS = sample_names("ws_legacy_*.json", "legacy")


def test_there_are_samples_to_check() -> None:
    assert len(CURRENT_MESSAGES) >= 30
    assert len(LEGACY_WS) >= 10


@pytest.mark.parametrize("name", CURRENT_MESSAGES)
def test_every_current_sample_parses(name: str) -> None:
    msg = parse_message(load_sample(name))
    assert not isinstance(msg, UnknownMessage)
    assert msg.type == load_sample(name)["type"]


@pytest.mark.parametrize("name", LEGACY_WS)
def test_every_legacy_sample_fails_naming_a_field(name: str) -> None:
    with pytest.raises(ProtocolError) as exc_info:
        parse_message(load_sample(name))
    err = exc_info.value
    assert err.field
    assert repr(err.field) in str(err) or err.field == "code" or err.field == "type"


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("legacy/ws_legacy_2026-03_ticker.json", "yes_bid_size_fp"),
        ("legacy/ws_legacy_2026-03_market_position.json", "position_cost_dollars"),
        ("legacy/ws_legacy_2026-03_user_order.json", "taker_fees_dollars"),
        ("legacy/ws_legacy_2026-03_fill.json", "fee_cost"),
        ("legacy/ws_legacy_2026-03_orderbook_snapshot.json", "yes"),
        ("legacy/ws_legacy_2026-03_orderbook_delta.json", "price"),
    ],
)
def test_legacy_errors_name_the_missing_or_removed_field(name: str, field: str) -> None:
    with pytest.raises(ProtocolError) as exc_info:
        parse_message(load_sample(name))
    assert exc_info.value.field == field


def test_the_pre_2026_production_ticker_capture_fails() -> None:
    with pytest.raises(ProtocolError):
        parse_message(load_sample("third_party/ws_ticker_production_capture_pre2026-03.json"))


def test_the_legacy_rest_orderbook_fails_loudly() -> None:
    with pytest.raises(ProtocolError, match="orderbook"):
        Orderbook.from_response(
            "X", load_sample("legacy/rest_legacy_2025-10_get_market_orderbook_response.json")
        )


def test_the_legacy_v1_amend_body_fails_as_an_order_request() -> None:
    with pytest.raises(ProtocolError) as exc_info:
        OrderRequest.from_dict(
            load_sample("legacy/rest_legacy_v1_amend_order_request_changelog_2026-01-21.json")
        )
    assert exc_info.value.field in ("yes_price", "action", "price")


def test_the_v2_quickstart_body_is_a_valid_order_request() -> None:
    body = load_sample("rest_create_order_v2_request_quickstart_ADAPTED.json")
    req = OrderRequest.from_dict(body)
    assert req.price == Decimal("0.01") and req.count == Decimal("1.00") and req.side == "bid"
    assert req.to_json()["price"] == "0.0100"


def test_the_snapshot_parses_to_decimal_levels() -> None:
    msg = parse_message(load_sample("ws_msg_orderbook_snapshot.json"))
    assert isinstance(msg, OrderbookSnapshot)
    assert msg.yes == ((Decimal("0.08"), Decimal("300.00")), (Decimal("0.22"), Decimal("333.00")))
    assert msg.no[-1] == (Decimal("0.56"), Decimal("146.00"))
    assert (msg.sid, msg.seq) == (2, 2)


def test_the_delta_parses_a_signed_count() -> None:
    msg = parse_message(load_sample("ws_msg_orderbook_delta.json"))
    assert isinstance(msg, OrderbookDelta)
    assert msg.delta == Decimal("-54.00") and str(msg.delta) == "-54.00"
    assert msg.price == Decimal("0.96") and msg.side == "yes"
    assert msg.ts == datetime(2022, 11, 22, 20, 44, 1, tzinfo=UTC)


def test_three_and_four_decimal_prices_parse_by_value() -> None:
    frame = load_sample("ws_msg_orderbook_delta.json")
    frame["msg"]["price_dollars"] = "0.960"
    assert parse_message(frame).price == Decimal("0.9600")


def test_a_number_where_a_dollar_string_belongs_is_rejected() -> None:
    frame = load_sample("ws_msg_orderbook_delta.json")
    frame["msg"]["price_dollars"] = 0.96
    with pytest.raises(ProtocolError, match="price_dollars"):
        parse_message(frame)


def test_a_renamed_level_field_fails_instead_of_giving_an_empty_book() -> None:
    frame = load_sample("ws_msg_orderbook_snapshot.json")
    frame["msg"]["yes_levels_fp"] = frame["msg"].pop("yes_dollars_fp")
    frame["msg"]["no_levels_fp"] = frame["msg"].pop("no_dollars_fp")
    with pytest.raises(ProtocolError, match="unrecognised level field"):
        parse_message(frame)


def test_an_empty_snapshot_is_fine() -> None:
    msg = parse_message(
        {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "A", "market_id": "x"}}
    )
    assert isinstance(msg, OrderbookSnapshot) and msg.yes == () and msg.no == ()


def test_unknown_extra_fields_are_tolerated() -> None:
    frame = load_sample("ws_msg_trade.json")
    frame["msg"]["brand_new_field"] = {"x": 1}
    assert isinstance(parse_message(frame), Trade)


def test_unknown_message_types_pass_through() -> None:
    msg = parse_message({"type": "cfbenchmarks_value", "sid": 3, "msg": {}})
    assert isinstance(msg, UnknownMessage) and msg.type == "cfbenchmarks_value"


def test_typed_fields() -> None:
    ticker = parse_message(load_sample("ws_msg_ticker.json"))
    assert isinstance(ticker, Ticker)
    assert ticker.yes_bid == Decimal("0.45") and ticker.volume == Decimal("33896.00")
    assert ticker.ts == datetime(2022, 11, 22, 20, 44, 1, tzinfo=UTC)
    fill = parse_message(load_sample("ws_msg_fill.json"))
    assert (
        isinstance(fill, Fill) and fill.fee_cost == Decimal("0.01") and fill.post_position == Decimal("500")
    )
    order = parse_message(load_sample("ws_msg_user_order.json"))
    assert isinstance(order, UserOrder) and order.remaining_count == Decimal("10.00")
    assert order.created_at == datetime(2024, 12, 1, 10, 0, tzinfo=UTC)
    pos = parse_message(load_sample("ws_msg_market_position.json"))
    assert isinstance(pos, MarketPositionUpdate) and pos.position_cost == Decimal("50")
    life = parse_message(load_sample("ws_msg_market_lifecycle_v2_price_level_structure_updated.json"))
    assert isinstance(life, MarketLifecycle) and life.price_ranges[0].step == Decimal("0.001")
    assert isinstance(parse_message(load_sample("ws_msg_event_lifecycle.json")), EventLifecycle)
    fee = parse_message(load_sample("ws_msg_event_fee_update_set.json"))
    assert isinstance(fee, EventFeeUpdate) and fee.fee_multiplier_override == Decimal(1)
    group = parse_message(load_sample("ws_msg_order_group_updates.json"))
    assert isinstance(group, OrderGroupUpdate) and group.contracts_limit == Decimal("150.00")
    assert isinstance(parse_message(load_sample("ws_msg_rfq_created.json")), CommunicationsMessage)


def test_command_replies() -> None:
    sub = parse_message(load_sample("ws_resp_subscribed.json"))
    assert sub == Subscribed(id=1, channel="orderbook_delta", sid=1)
    ok = parse_message(load_sample("ws_resp_ok_update_subscription.json"))
    assert isinstance(ok, Ok) and ok.market_tickers == ("MARKET-1", "MARKET-2", "MARKET-3") and ok.seq == 222
    subs = parse_message(load_sample("ws_resp_list_subscriptions.json"))
    assert isinstance(subs, Ok) and [s.channel for s in subs.subscriptions or ()] == [
        "orderbook_delta",
        "ticker",
        "fill",
    ]
    unsub = parse_message(load_sample("ws_resp_unsubscribed.json"))
    assert unsub == Unsubscribed(id=102, sid=2, seq=7)
    err = parse_message(load_sample("ws_resp_error_unknown_channel.json"))
    assert isinstance(err, ErrorMessage) and err.error.ws_code == 8


_delta_values = st.one_of(
    st.decimals(min_value=-1000, max_value=1000, places=2).map(lambda d: f"{d:.2f}"),
    st.sampled_from(["5", "5.0", "5.000", "-0.001", "abc", "", "NaN", "Infinity"]),
    st.integers(-5, 5),
    st.none(),
)
_price_values = st.one_of(
    st.sampled_from(["0.4200", "0.420", "0.42", "1", "0.00001", "x", "NaN"]), st.floats(0, 1), st.none()
)


@settings(max_examples=300, deadline=None)
@given(
    price=_price_values,
    delta=_delta_values,
    side=st.sampled_from(["yes", "no", "YES", 1]),
    ts_ms=st.one_of(st.none(), st.integers(0, 2_000_000_000_000), st.just("1")),
    extra=st.dictionaries(
        st.sampled_from(["client_order_id", "subaccount", "ts", "price", "delta"]),
        st.sampled_from(["c-1", 3, "2026-01-01T00:00:00Z"]),
        max_size=2,
    ),
    seq=st.one_of(st.integers(1, 10), st.just("2")),
)
def test_decoding_from_bytes_agrees_with_parsing_a_dict(price, delta, side, ts_ms, extra, seq) -> None:
    msg = {"market_ticker": "A", "market_id": "m", "side": side, **extra}
    for key, value in (("price_dollars", price), ("delta_fp", delta), ("ts_ms", ts_ms)):
        if value is not None:
            msg[key] = value
    frame = {"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": msg}
    try:
        expected = parse_message(frame)
    except ProtocolError as exc:
        with pytest.raises(ProtocolError) as got:
            decode_message(msgspec.json.encode(frame))
        assert got.value.field == exc.field
        return
    got_msg = decode_message(msgspec.json.encode(frame))
    assert got_msg == expected
    assert isinstance(got_msg, OrderbookDelta)
    assert str(got_msg.delta) == f"{got_msg.delta:.2f}"  # always 2 places
    assert got_msg.side in ("yes", "no") and type(got_msg.sid) is int and type(got_msg.seq) is int


def test_a_delta_with_a_malformed_legacy_ts_is_a_protocol_error_naming_the_field() -> None:
    """Found by the property test above (`extra={"ts": "c-1"}`): a bare ValueError escaped the parser."""
    frame = {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": 1,
        "msg": {
            "market_ticker": "A",
            "market_id": "m",
            "side": "yes",
            "price_dollars": "0.5000",
            "delta_fp": "1.00",
            "ts": "c-1",
        },
    }
    with pytest.raises(ProtocolError) as parsed:
        parse_message(frame)
    with pytest.raises(ProtocolError) as decoded:
        decode_message(msgspec.json.encode(frame))
    assert parsed.value.field == decoded.value.field == "ts"
