"""The client decodes the examples in Kalshi's own specification (tests/fixtures/kalshi-spec).

Every example in the AsyncAPI file's messages and every object example in the OpenAPI file's schemas is either
decoded through the client's wire types (``kalshiweb.kalshi.types``) or listed below as one the client does not
read, with the reason; a new example in a newer spec fails ``test_every_example_is_accounted_for`` until it is
sorted into one or the other.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi import models as k
from kalshiweb.kalshi.errors import ProtocolError
from kalshiweb.kalshi.types.scalars import Count, Dollars, convert

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "kalshi-spec"


@cache
def asyncapi() -> dict[str, Any]:
    return yaml.safe_load((SPEC / "asyncapi-2.0.0.yaml").read_text())


@cache
def openapi() -> dict[str, Any]:
    return yaml.safe_load((SPEC / "openapi-3.28.0.assembled.yaml").read_text())


# --- WebSocket ----------------------------------------------------------------------------------------------------

# AsyncAPI message → the client type its examples decode to.
WS_DECODED: dict[str, type] = {
    "subscribedResponse": m.Subscribed,
    "unsubscribedResponse": m.Unsubscribed,
    "okResponse": m.Ok,
    "listSubscriptionsResponse": m.Ok,
    "errorResponse": m.ErrorMessage,
    "orderbookSnapshot": m.OrderbookSnapshot,
    "orderbookDelta": m.OrderbookDelta,
    "ticker": m.Ticker,
    "trade": m.Trade,
    "fill": m.Fill,
    "marketLifecycleV2": m.MarketLifecycle,
    "multivariateMarketLifecycle": m.MarketLifecycle,
    "eventLifecycle": m.EventLifecycle,
    "eventFeeUpdate": m.EventFeeUpdate,
    "marketPosition": m.MarketPositionUpdate,
    "orderGroupUpdates": m.OrderGroupUpdate,
    "userOrder": m.UserOrder,
    "rfqCreated": m.CommunicationsMessage,
    "rfqDeleted": m.CommunicationsMessage,
    "quoteCreated": m.CommunicationsMessage,
    "quoteAccepted": m.CommunicationsMessage,
    "quoteExecuted": m.CommunicationsMessage,
}
# Messages whose examples the client passes through untyped: delivered as UnknownMessage, never an error.
WS_PASSED_THROUGH = {"cfbenchmarksValue", "cfbenchmarksIndexList", "pythValue", "pythUnderlyingList"}
# Examples the client never decodes: what it sends, and the transport's own pings.
WS_NOT_DECODED = {
    "incomingPing": "a control frame the client sends",
    "incomingPong": "a control frame the client sends",
    "outgoingPing": "a control frame websockets answers",
    "outgoingPong": "a control frame",
    "subscribeCommand": "a command the client sends",
    "unsubscribeCommand": "a command the client sends",
    "listSubscriptionsCommand": "a command the client sends",
    "updateSubscriptionCommand": "a command the client sends",
    "updateSubscriptionDeleteCommand": "a command the client sends",
    "updateSubscriptionGetSnapshotCommand": "a command the client sends",
    "updateSubscriptionSingleSidCommand": "a command the client sends",
    "cfbenchmarksUpdateSubscriptionCommand": "a command the client sends",
    "pythUpdateSubscriptionCommand": "a command the client sends",
}


def ws_examples() -> list[tuple[str, str, Any]]:
    out = []
    for name, message in asyncapi()["components"]["messages"].items():
        for example in message.get("examples", []):
            out.append((name, example.get("name", "?"), example["payload"]))
    return out


def ws_cases(names: set[str] | dict[str, type]) -> list[Any]:
    return [pytest.param(n, p, id=f"{n}:{e}") for n, e, p in ws_examples() if n in names]


def test_the_spec_has_examples_to_check() -> None:
    assert len(ws_cases(WS_DECODED)) >= 20
    assert len(openapi_examples()) >= 8


# Examples the spec carries from older protocol versions: each lacks a field that the spec's own schema for that
# message requires (the client rejects it naming that field), or uses an error code Kalshi retired.
WS_STALE_EXAMPLES = {
    "trade:tradeNotification": "taker_outcome_side",
    "fill:userFill": "fee_cost",
    "userOrder:userOrderCreated": "taker_fees_dollars",
    "orderGroupUpdates:orderGroupLimitUpdated": "ts_ms",
    "errorResponse:alreadySubscribed": "code",  # WS error 6, retired
    "errorResponse:marketNotFound": "code",  # WS error 16, retired
}
# Examples without the envelope's "seq": the schema does not list it, but these channels are sequenced (the
# client detects gaps with it, protocol notes §7.3) and the client requires it. With a seq they must decode.
WS_WITHOUT_SEQ = {"marketLifecycleV2", "multivariateMarketLifecycle", "eventLifecycle", "eventFeeUpdate"} | {
    "rfqCreated",
    "rfqDeleted",
    "quoteCreated",
    "quoteAccepted",
    "quoteExecuted",
}


def _schema(ref_or_schema: Any) -> dict[str, Any]:
    schemas = asyncapi()["components"]["schemas"]
    while isinstance(ref_or_schema, dict) and "$ref" in ref_or_schema:
        ref_or_schema = schemas[ref_or_schema["$ref"].rsplit("/", 1)[-1]]
    return ref_or_schema


def _required_by_spec(message: str) -> set[str]:
    payload = _schema(asyncapi()["components"]["messages"][message]["payload"])
    body = _schema(payload.get("properties", {}).get("msg", {}))
    return set(payload.get("required", [])) | set(body.get("required", []))


def _decode_both(payload: dict[str, Any]) -> Any:
    from_bytes = m.decode_message(json.dumps(payload).encode())
    from_dict = m.parse_message(payload)
    assert type(from_bytes) is type(from_dict)
    if not isinstance(from_bytes, m.ErrorMessage):  # a WebSocketError compares by identity
        assert from_bytes == from_dict
    return from_bytes


@pytest.mark.parametrize(("name", "payload"), ws_cases(WS_DECODED))
def test_the_client_decodes_the_asyncapi_example(name: str, payload: dict[str, Any], request: Any) -> None:
    case = request.node.callspec.id
    if case in WS_STALE_EXAMPLES:
        field = WS_STALE_EXAMPLES[case]
        assert field in _required_by_spec(name) or field == "code"
        with pytest.raises(ProtocolError) as exc_info:
            m.decode_message(json.dumps(payload).encode())
        assert exc_info.value.field == field or field == "code"
        return
    if name in WS_WITHOUT_SEQ and "seq" not in payload:
        assert "seq" not in _required_by_spec(name)
        with pytest.raises(ProtocolError, match="seq"):
            m.decode_message(json.dumps(payload).encode())
        payload = {**payload, "seq": 1}
    msg = _decode_both(payload)
    assert isinstance(msg, WS_DECODED[name])
    assert msg.type == payload["type"]
    body = payload.get("msg")
    if isinstance(body, dict):
        # every dollar and count string of the example arrives as the same Decimal, by value
        for key, value in body.items():
            attr = key.removesuffix("_dollars").removesuffix("_fp")
            if key != attr and isinstance(value, str) and value and hasattr(msg, attr):
                assert getattr(msg, attr) == Decimal(value), key


@pytest.mark.parametrize(("name", "payload"), ws_cases(WS_PASSED_THROUGH))
def test_unmodelled_asyncapi_examples_pass_through(name: str, payload: dict[str, Any]) -> None:
    msg = m.decode_message(json.dumps(payload).encode())
    assert isinstance(msg, m.UnknownMessage) and msg.type == payload["type"]


def test_the_orderbook_examples_give_decimal_levels() -> None:
    (payload,) = [p for n, _, p in ws_examples() if n == "orderbookSnapshot"]
    msg = m.decode_message(json.dumps(payload).encode())
    assert isinstance(msg, m.OrderbookSnapshot)
    wire = payload["msg"]
    assert msg.yes == tuple((Decimal(p), Decimal(c)) for p, c in wire.get("yes_dollars_fp", []))
    assert msg.no == tuple((Decimal(p), Decimal(c)) for p, c in wire.get("no_dollars_fp", []))
    assert msg.yes or msg.no


# --- REST ---------------------------------------------------------------------------------------------------------


def _batch_create(d: Any) -> Any:
    return [k.BatchCreateItem.from_dict(x) for x in d["orders"]]


def _batch_cancel(d: Any) -> Any:
    return [k.BatchCancelItem.from_dict(x) for x in d["orders"]]


def _batch_create_request(d: Any) -> Any:
    return [k.OrderRequest.from_dict(x) for x in d["orders"]]


# OpenAPI schema → how the client reads an example of it.
REST_DECODED: dict[str, Any] = {
    "CreateOrderV2Request": k.OrderRequest.from_dict,
    "BatchCreateOrdersV2Request": _batch_create_request,
    "CreateOrderV2Response": k.CreateOrderResult.from_dict,
    "CancelOrderV2Response": k.CancelOrderResult.from_dict,
    "AmendOrderV2Response": k.AmendOrderResult.from_dict,
    "DecreaseOrderV2Response": k.DecreaseOrderResult.from_dict,
    "BatchCreateOrdersV2Response": _batch_create,
    "BatchCancelOrdersV2Response": _batch_cancel,
    "FixedPointDollars": lambda v: convert("FixedPointDollars", v, Dollars),
    "FixedPointCount": lambda v: convert("FixedPointCount", v, Count),
    "PriceLevelDollarsCountFp": lambda v: convert("PriceLevelDollarsCountFp", v, tuple[Dollars, Count]),
}
# Examples of request bodies the client writes itself (rest.py builds them from arguments), and of single
# properties (checked through the object that holds them where the client reads it).
REST_NOT_DECODED = {
    "AmendOrderV2Request": "a request body: KalshiClient.amend_order writes it",
    "DecreaseOrderV2Request": "a request body: KalshiClient.decrease_order writes it",
    "BatchCancelOrdersV2Request": "a request body: KalshiClient.batch_cancel_orders writes it",
    "ExchangeIndex": "a plain integer",
}


def openapi_examples() -> list[tuple[str, Any]]:
    """(schema name, example) for every example on a whole schema (not on one property or parameter)."""
    return [
        (name, schema["example"])
        for name, schema in openapi()["components"]["schemas"].items()
        if isinstance(schema, dict) and "example" in schema
    ]


@pytest.mark.parametrize(
    ("name", "example"), [pytest.param(n, e, id=n) for n, e in openapi_examples() if n in REST_DECODED]
)
def test_the_client_decodes_the_openapi_example(name: str, example: Any) -> None:
    decoded = REST_DECODED[name](example)
    assert decoded is not None


def test_the_order_examples_round_trip_through_the_request_type() -> None:
    (example,) = [e for n, e in openapi_examples() if n == "CreateOrderV2Request"]
    req = k.OrderRequest.from_dict(example)
    assert req.price == Decimal(example["price"]) and req.count == Decimal(example["count"])
    sent = req.to_json()
    assert {key: sent[key] for key in example} == {
        key: (f"{Decimal(v):.4f}" if key == "price" else f"{Decimal(v):.2f}" if key == "count" else v)
        for key, v in example.items()
    }


def test_the_create_response_example_has_the_documented_values() -> None:
    (example,) = [e for n, e in openapi_examples() if n == "CreateOrderV2Response"]
    result = k.CreateOrderResult.from_dict(example)
    assert result.order_id == example["order_id"]
    assert result.fill_count == Decimal(example["fill_count"])
    assert result.remaining_count == Decimal(example["remaining_count"])
    assert result.ts.tzinfo is not None


def test_every_example_is_accounted_for() -> None:
    ws_names = {n for n, _, _ in ws_examples()}
    assert ws_names <= set(WS_DECODED) | WS_PASSED_THROUGH | set(WS_NOT_DECODED), (
        ws_names - set(WS_DECODED) - WS_PASSED_THROUGH - set(WS_NOT_DECODED)
    )
    rest_names = {n for n, _ in openapi_examples()}
    assert rest_names <= set(REST_DECODED) | set(REST_NOT_DECODED), (
        rest_names - set(REST_DECODED) - set(REST_NOT_DECODED)
    )


def test_a_float_where_the_spec_says_string_is_rejected() -> None:
    """The spec's FixedPointDollars is a string; msgspec alone would also take a JSON number."""
    with pytest.raises(Exception, match="dollar string"):
        convert("FixedPointDollars", 0.56, Dollars)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(0.56, Dollars)  # without the client's hook nothing reads it at all


def test_decoded_prices_and_times_are_plain_decimals_and_datetimes() -> None:
    """The ORM and SQLite's adapters look types up exactly: a Decimal subclass would not bind."""
    (payload,) = [p for n, e, p in ws_examples() if n == "orderbookDelta" and e == "priceLevelUpdate"]
    msg = m.decode_message(json.dumps(payload).encode())
    assert type(msg.price) is Decimal and type(msg.delta) is Decimal
    (example,) = [e for n, e in openapi_examples() if n == "CreateOrderV2Response"]
    result = k.CreateOrderResult.from_dict(example)
    assert type(result.fill_count) is Decimal
