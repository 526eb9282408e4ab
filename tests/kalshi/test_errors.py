from __future__ import annotations

import pytest

from kalshiweb.kalshi.errors import (
    BadRequest,
    Conflict,
    ExchangeUnavailable,
    Forbidden,
    InsufficientBalance,
    InvalidOrder,
    KalshiError,
    MarketClosed,
    NotFound,
    ProtocolError,
    RateLimited,
    Unauthorized,
    WebSocketError,
    error_from_response,
    error_from_ws,
    parse_error_body,
)

from .conftest import load_sample, sample_names


def test_it_parses_the_wrapped_error_form() -> None:
    body = load_sample("third_party/rest_error_401_incorrect_signature.json")
    err = error_from_response(401, body)
    assert isinstance(err, Unauthorized)
    assert err.code == "authentication_error"
    assert "INCORRECT_API_KEY_SIGNATURE" in err.details
    assert err.http_status == 401
    assert err.retryable is False


def test_it_parses_the_bare_error_form() -> None:
    err = error_from_response(400, {"code": "invalid_order", "message": "bad price", "details": "off grid"})
    assert isinstance(err, InvalidOrder)
    assert (err.code, err.message, err.details) == ("invalid_order", "bad price", "off grid")


def test_it_parses_the_429_form_as_retryable() -> None:
    err = error_from_response(429, load_sample("rest_429_too_many_requests_body.json"))
    assert isinstance(err, RateLimited)
    assert err.retryable is True
    assert err.message == "too many requests"
    assert err.retry_after is None


def test_it_reads_retry_after_when_present() -> None:
    err = error_from_response(429, b'{"error": "too many requests"}', headers={"retry-after": "2"})
    assert err.retry_after == 2.0


def test_it_parses_bytes_and_non_json_bodies() -> None:
    assert parse_error_body(b'{"error": {"code": "x", "message": "y"}}') == ("x", "y", None)
    assert parse_error_body(b"<html>bad gateway</html>")[1] == "<html>bad gateway</html>"
    err = error_from_response(502, b"<html>bad gateway</html>")
    assert isinstance(err, ExchangeUnavailable)
    assert err.retryable


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "available_balance_too_low", InsufficientBalance),
        (400, "insufficient_balance", InsufficientBalance),
        (400, "MARKET_INACTIVE", MarketClosed),
        (409, "market_closed", MarketClosed),
        (400, "invalid_order_size", InvalidOrder),
        (400, "order_side_mismatch", InvalidOrder),
        (400, "something_else", BadRequest),
        (403, "forbidden", Forbidden),
        (404, "not_found", NotFound),
        (409, "order_already_exists", Conflict),
        (500, "internal", ExchangeUnavailable),
        (503, "", ExchangeUnavailable),
    ],
)
def test_it_maps_statuses_and_codes_to_classes(status: int, code: str, cls: type[KalshiError]) -> None:
    err = error_from_response(status, {"error": {"code": code, "message": "m"}})
    assert type(err) is cls
    assert isinstance(err, KalshiError)


def test_the_deprecated_v1_body_parses() -> None:
    err = error_from_response(400, load_sample("third_party/rest_error_deprecated_v1_order_endpoint.json"))
    assert err.code == "deprecated_v1_order_endpoint"
    assert "V2" in str(err)


def test_conflict_carries_the_client_order_id() -> None:
    err = error_from_response(409, {"error": {"code": "conflict"}}, client_order_id="abc")
    assert isinstance(err, Conflict)
    assert err.client_order_id == "abc"


@pytest.mark.parametrize("name", sample_names("ws_resp_error_*.json"))
def test_ws_error_frames_map_to_websocket_error(name: str) -> None:
    frame = load_sample(name)
    err = error_from_ws(frame)
    assert isinstance(err, WebSocketError)
    assert err.ws_code == frame["msg"]["code"]
    assert err.command_id == frame["id"]
    assert err.message == frame["msg"]["msg"]


def test_codes_10_and_25_need_a_resubscribe() -> None:
    assert error_from_ws({"type": "error", "msg": {"code": 10, "msg": "Channel error"}}).needs_resubscribe
    buffer = error_from_ws({"id": 0, "sid": 4, "type": "error", "msg": {"code": 25, "msg": "overflow"}})
    assert buffer.needs_resubscribe and buffer.sid == 4 and buffer.retryable
    assert not error_from_ws({"type": "error", "msg": {"code": 7, "msg": "x"}}).needs_resubscribe


@pytest.mark.parametrize("name", sample_names("ws_legacy_*error*.json", "legacy"))
def test_retired_ws_error_codes_are_protocol_errors(name: str) -> None:
    with pytest.raises(ProtocolError, match="retired"):
        error_from_ws(load_sample(name))
