"""KalshiClient against an in-memory transport: retry policy, error mapping, pagination, parsing.
(The same paths run for real against the simulator in test_integration_rest.py.)"""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal

import httpx
import pytest

from kalshiweb.kalshi import (
    Conflict,
    ExchangeUnavailable,
    KalshiClient,
    KalshiSyncClient,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    book_order,
)

from .conftest import load_sample

BASE = "https://external-api.demo.kalshi.co/trade-api/v2"
KEY_ID = "k-123"


def order_json(client_order_id: str = "c1", order_id: str = "o1") -> dict:
    return {
        "order_id": order_id,
        "user_id": "u",
        "client_order_id": client_order_id,
        "ticker": "T",
        "outcome_side": "yes",
        "book_side": "bid",
        "type": "limit",
        "status": "resting",
        "yes_price_dollars": "0.4200",
        "no_price_dollars": "0.5800",
        "fill_count_fp": "0.00",
        "remaining_count_fp": "10.00",
        "initial_count_fp": "10.00",
        "taker_fill_cost_dollars": "0.000000",
        "maker_fill_cost_dollars": "0.000000",
        "taker_fees_dollars": "0.000000",
        "maker_fees_dollars": "0.000000",
        "created_time": "2026-11-24T10:00:00Z",
    }


class Recorder:
    def __init__(self, handler):
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request, len(self.requests))


def make_client(handler, pkcs8_pem: bytes | None = None, **kw) -> tuple[KalshiClient, Recorder]:
    rec = Recorder(handler)
    kw.setdefault("backoff_base", 0.001)
    client = KalshiClient(
        BASE,
        key_id=KEY_ID if pkcs8_pem else None,
        private_key=pkcs8_pem,
        transport=httpx.MockTransport(rec),
        **kw,
    )
    return client, rec


async def test_a_get_is_retried_after_429_and_succeeds(pkcs8_pem: bytes) -> None:
    def handler(request, n):
        if n < 3:
            return httpx.Response(429, json={"error": "too many requests"})
        return httpx.Response(200, json={"exchange_active": True, "trading_active": False})

    client, rec = make_client(handler, pkcs8_pem)
    status = await client.get_exchange_status()
    assert status.exchange_active and not status.trading_active
    assert len(rec.requests) == 3
    # each attempt is signed afresh
    assert all("KALSHI-ACCESS-SIGNATURE" in r.headers for r in rec.requests)
    await client.aclose()


async def test_a_get_gives_up_after_max_attempts() -> None:
    client, rec = make_client(
        lambda r, n: httpx.Response(429, json={"error": "too many requests"}), max_attempts=3
    )
    with pytest.raises(RateLimited) as exc_info:
        await client.get_exchange_status()
    assert exc_info.value.retryable
    assert len(rec.requests) == 3


async def test_a_post_is_not_retried_after_429(pkcs8_pem: bytes) -> None:
    client, rec = make_client(
        lambda r, n: httpx.Response(429, json={"error": "too many requests"}), pkcs8_pem
    )
    with pytest.raises(RateLimited) as exc_info:
        await client.create_order("T", "bid", 1, Decimal("0.42"))
    assert exc_info.value.retryable is True
    assert len(rec.requests) == 1


async def test_a_post_is_retried_after_429_when_the_caller_asks(pkcs8_pem: bytes) -> None:
    def handler(request, n):
        if n == 1:
            return httpx.Response(429, json={"error": "too many requests"})
        body = json.loads(request.content)
        return httpx.Response(
            201,
            json={
                "order_id": "o1",
                "fill_count": "0.00",
                "remaining_count": body["count"],
                "ts_ms": 1700000000000,
            },
        )

    client, rec = make_client(handler, pkcs8_pem)
    result = await client.create_order("T", "bid", 3, Decimal("0.42"), retry_on_429=True)
    assert result.remaining_count == Decimal("3.00") and len(rec.requests) == 2
    # the same client_order_id was sent both times: a retry can never create a second order
    ids = {json.loads(r.content)["client_order_id"] for r in rec.requests}
    assert len(ids) == 1 and result.client_order_id in ids


async def test_create_order_sends_the_v2_body_with_a_generated_uuid(pkcs8_pem: bytes) -> None:
    def handler(request, n):
        return httpx.Response(
            201,
            json={"order_id": "o1", "fill_count": "0.00", "remaining_count": "10.00", "ts_ms": 1700000000000},
        )

    client, rec = make_client(handler, pkcs8_pem)
    result = await client.create_order("T", "ask", Decimal("10"), Decimal("0.37"), post_only=True)
    body = json.loads(rec.requests[0].content)
    assert rec.requests[0].url.path == "/trade-api/v2/portfolio/events/orders"
    assert body["side"] == "ask" and body["price"] == "0.3700" and body["count"] == "10.00"
    assert body["time_in_force"] == "good_till_canceled" and body["post_only"] is True
    assert uuid.UUID(body["client_order_id"]).version == 4
    assert result.client_order_id == body["client_order_id"]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
async def test_a_lost_create_response_is_an_unknown_outcome(pkcs8_pem: bytes, failure: Exception) -> None:
    def handler(request, n):
        raise failure

    client, rec = make_client(handler, pkcs8_pem)
    with pytest.raises(OutcomeUnknown) as exc_info:
        await client.create_order("T", "bid", 1, Decimal("0.5"), client_order_id="mine-1")
    assert exc_info.value.client_order_id == "mine-1"
    assert exc_info.value.retryable is False
    assert len(rec.requests) == 1


async def test_a_5xx_on_create_is_an_unknown_outcome(pkcs8_pem: bytes) -> None:
    client, rec = make_client(
        lambda r, n: httpx.Response(500, json={"error": {"code": "internal"}}), pkcs8_pem
    )
    with pytest.raises(OutcomeUnknown) as exc_info:
        await client.create_order("T", "bid", 1, Decimal("0.5"), client_order_id="mine-2")
    assert exc_info.value.client_order_id == "mine-2" and exc_info.value.http_status == 500
    assert len(rec.requests) == 1


async def test_a_connection_refused_write_is_not_an_unknown_outcome(pkcs8_pem: bytes) -> None:
    def handler(request, n):
        raise httpx.ConnectError("refused")

    client, rec = make_client(handler, pkcs8_pem)
    with pytest.raises(ExchangeUnavailable) as exc_info:
        await client.create_order("T", "bid", 1, Decimal("0.5"))
    assert exc_info.value.retryable and len(rec.requests) == 1


async def test_a_get_is_retried_after_5xx_and_timeouts() -> None:
    def handler(request, n):
        if n == 1:
            return httpx.Response(503, text="unavailable")
        if n == 2:
            raise httpx.ReadTimeout("slow")
        return httpx.Response(200, json={"market": {}})

    client, rec = make_client(handler)
    with pytest.raises(ProtocolError, match="Market is missing required field 'ticker'"):
        await client.get_market("T")
    assert len(rec.requests) == 3


async def test_409_on_create_is_a_conflict_carrying_the_client_order_id(pkcs8_pem: bytes) -> None:
    client, _ = make_client(
        lambda r, n: httpx.Response(
            409, json={"error": {"code": "order_already_exists", "message": "exists"}}
        ),
        pkcs8_pem,
    )
    with pytest.raises(Conflict) as exc_info:
        await client.create_order("T", "bid", 1, Decimal("0.5"), client_order_id="dup")
    assert exc_info.value.client_order_id == "dup"


async def test_404_is_not_found() -> None:
    client, _ = make_client(
        lambda r, n: httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})
    )
    with pytest.raises(NotFound):
        await client.get_market("NOPE")


async def test_iter_orders_follows_cursors_and_find_order_matches(pkcs8_pem: bytes) -> None:
    pages = {
        None: ([order_json("a", "1"), order_json("b", "2")], "p2"),
        "p2": ([order_json("c", "3")], "p3"),
        "p3": ([], ""),
    }

    def handler(request, n):
        cursor = request.url.params.get("cursor")
        orders, nxt = pages[cursor]
        assert request.url.params["ticker"] == "T"
        return httpx.Response(200, json={"orders": orders, "cursor": nxt})

    client, _ = make_client(handler, pkcs8_pem)
    found = await client.find_order(client_order_id="c", ticker="T")
    assert found is not None and found.order_id == "3" and found.remaining_count == Decimal("10.00")
    assert await client.find_order(client_order_id="zzz", ticker="T") is None
    ids = [o.order_id async for o in client.iter_orders(ticker="T")]
    assert ids == ["1", "2", "3"]


async def test_a_missing_orderbook_field_is_a_protocol_error_not_an_empty_book() -> None:
    client, _ = make_client(
        lambda r, n: httpx.Response(200, json={"orderbook": {"yes": [[1, 200]], "no": []}})
    )
    with pytest.raises(ProtocolError, match="orderbook"):
        await client.get_orderbook("T")
    client2, _ = make_client(lambda r, n: httpx.Response(200, json={"orderbook_fp": {"yes_dollars": []}}))
    with pytest.raises(ProtocolError, match="no_dollars"):
        await client2.get_orderbook("T")


async def test_the_sample_orderbook_parses() -> None:
    client, rec = make_client(
        lambda r, n: httpx.Response(200, json=load_sample("rest_get_market_orderbook_response.json"))
    )
    book = await client.get_orderbook("FED", depth=5)
    assert rec.requests[0].url.params["depth"] == "5"
    assert book.yes[-1] == (Decimal("0.42"), Decimal("13.00")) and len(book.no) == 10


async def test_public_gets_are_signed_when_a_key_is_configured(pkcs8_pem: bytes) -> None:
    client, rec = make_client(
        lambda r, n: httpx.Response(200, json={"exchange_active": True, "trading_active": True}), pkcs8_pem
    )
    await client.get_exchange_status()
    assert rec.requests[0].headers["KALSHI-ACCESS-KEY"] == KEY_ID
    unsigned, rec2 = make_client(
        lambda r, n: httpx.Response(200, json={"exchange_active": True, "trading_active": True}),
        pkcs8_pem,
        sign_public=False,
    )
    await unsigned.get_exchange_status()
    assert "KALSHI-ACCESS-KEY" not in rec2.requests[0].headers


def test_book_order_maps_outcomes_to_the_yes_leg() -> None:
    assert book_order("yes", "buy", Decimal("0.40")) == ("bid", Decimal("0.40"))
    assert book_order("yes", "sell", Decimal("0.40")) == ("ask", Decimal("0.40"))
    assert book_order("no", "buy", Decimal("0.30")) == ("ask", Decimal("0.70"))
    assert book_order("no", "sell", Decimal("0.30")) == ("bid", Decimal("0.70"))


def test_order_requests_reject_bad_values() -> None:
    from kalshiweb.kalshi import OrderRequest

    with pytest.raises(ValueError):
        OrderRequest("T", "buy", Decimal(1), Decimal("0.5"), "c")
    with pytest.raises(ValueError):
        OrderRequest("T", "bid", Decimal(1), Decimal("1.0"), "c")
    with pytest.raises(ValueError):
        OrderRequest("T", "bid", Decimal("0.001"), Decimal("0.5"), "c")
    with pytest.raises(ValueError):
        OrderRequest("T", "bid", Decimal(1), Decimal("0.12345"), "c")


def test_the_sync_wrapper_runs_calls_and_iterators(
    pkcs8_pem: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request, n):
        if request.url.path.endswith("/portfolio/orders"):
            cursor = request.url.params.get("cursor")
            if cursor is None:
                return httpx.Response(200, json={"orders": [order_json("a", "1")], "cursor": "n"})
            return httpx.Response(200, json={"orders": [order_json("b", "2")], "cursor": ""})
        return httpx.Response(200, json={"exchange_active": True, "trading_active": True})

    client = KalshiSyncClient(
        BASE, key_id=KEY_ID, private_key=pkcs8_pem, transport=httpx.MockTransport(Recorder(handler))
    )
    try:
        assert client.get_exchange_status().exchange_active
        assert [o.order_id for o in client.iter_orders()] == ["1", "2"]
    finally:
        client.close()
    body = [line for line in pkcs8_pem.decode().splitlines() if "-----" not in line]
    assert not any(line in caplog.text for line in body)
    assert "KALSHI-ACCESS-SIGNATURE" not in caplog.text


async def test_find_order_looks_in_the_history_only_when_asked_and_a_404_there_is_not_found(
    pkcs8_pem: bytes,
) -> None:
    paths: list[str] = []

    def handler(request, n):
        paths.append(request.url.path)
        if request.url.path.endswith("/historical/orders"):
            if request.url.params.get("ticker") == "GONE":
                return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})
            return httpx.Response(200, json={"orders": [order_json("old", "9")], "cursor": ""})
        return httpx.Response(200, json={"orders": [], "cursor": ""})

    client, _ = make_client(handler, pkcs8_pem)
    assert await client.find_order(client_order_id="old", ticker="T") is None
    assert not any(p.endswith("/historical/orders") for p in paths)
    found = await client.find_order(client_order_id="old", ticker="T", include_historical=True)
    assert found is not None and found.order_id == "9"
    assert await client.find_order(client_order_id="zzz", ticker="T", include_historical=True) is None
    assert await client.find_order(client_order_id="old", ticker="GONE", include_historical=True) is None
