"""One error hierarchy for everything the Kalshi client can raise.

REST error bodies come in three shapes and all of them are parsed here:

* wrapped: ``{"error": {"code": "...", "message": "...", "details": "..."}}`` (what the wire carries)
* bare:    ``{"code": "...", "message": "...", "details": "..."}`` (what the OpenAPI schema shows)
* 429:     ``{"error": "too many requests"}``

WebSocket error frames (``{"type": "error", "msg": {"code": 7, "msg": "..."}}``) become ``WebSocketError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class KalshiError(Exception):
    """Base class. ``retryable`` says whether sending the same request again later is safe and sensible."""

    default_retryable = False

    def __init__(
        self,
        message: str = "",
        *,
        code: str | int | None = None,
        http_status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.details = details

    def __str__(self) -> str:
        parts = [self.message or type(self).__name__]
        if self.code not in (None, ""):
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        if self.details not in (None, ""):
            parts.append(f"details={self.details}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, retryable={self.retryable!r})"
        )


class RateLimited(KalshiError):
    default_retryable = True


class Unauthorized(KalshiError):
    pass


class Forbidden(KalshiError):
    pass


class NotFound(KalshiError):
    pass


class Conflict(KalshiError):
    """409. On order creation it means an order with this ``client_order_id`` already exists."""

    def __init__(self, message: str = "", *, client_order_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.client_order_id = client_order_id


class BadRequest(KalshiError):
    """400 that matched no more specific class."""


class InvalidOrder(BadRequest):
    pass


class InsufficientBalance(BadRequest):
    pass


class MarketClosed(BadRequest):
    pass


class OutcomeUnknown(KalshiError):
    """A write may or may not have happened (timeout, reset connection, 5xx after sending).

    Never resend blindly: reconcile first, e.g. ``KalshiClient.find_order(client_order_id=...)``.
    """

    def __init__(self, message: str = "", *, client_order_id: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", False)
        super().__init__(message, **kwargs)
        self.client_order_id = client_order_id


class ExchangeUnavailable(KalshiError):
    """5xx, or the exchange could not be reached at all (nothing was sent)."""

    default_retryable = True


class ProtocolError(KalshiError):
    """The exchange sent something this client does not understand: a renamed or missing field, a legacy shape,
    a wrong JSON type. Fails loudly on purpose, so a rename can never turn into an empty book."""

    def __init__(
        self, message: str = "", *, obj: str | None = None, field: str | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.obj = obj
        self.field = field


# WS error codes (protocol §7.4)
WS_ERROR_NAMES: dict[int, str] = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    9: "Authentication required",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    18: "Command timeout",
    19: "shard_factor must be > 0",
    20: "shard_factor is required when shard_key is set",
    21: "shard_key must be >= 0 and < shard_factor",
    22: "shard_factor must be <= 100",
    23: "Match IDs required",
    24: "Index IDs required",
    25: "Subscription buffer overflow",
    26: "Subscription market limit exceeded",
    27: "Too many requests",
    28: "Underlying tickers required",
}
RETIRED_WS_ERROR_CODES: dict[int, str] = {
    6: "Already subscribed",
    16: "Market not found",
    17: "Internal error",
}
# Codes after which the subscription is dead and must be made again.
WS_RESUBSCRIBE_CODES = frozenset({10, 25})
WS_RETRYABLE_CODES = frozenset({10, 18, 25, 27})


class WebSocketError(KalshiError):
    def __init__(
        self,
        code: int,
        message: str = "",
        *,
        sid: int | None = None,
        command_id: int | None = None,
        market_tickers: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            message or WS_ERROR_NAMES.get(code, "WebSocket error"),
            code=code,
            retryable=code in WS_RETRYABLE_CODES,
        )
        self.ws_code = code
        self.sid = sid
        self.command_id = command_id
        self.market_tickers = market_tickers

    @property
    def needs_resubscribe(self) -> bool:
        return self.ws_code in WS_RESUBSCRIBE_CODES


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def parse_error_body(body: Any) -> tuple[str, str, Any]:
    """(code, message, details) from any of the three REST error body shapes; empty strings when absent."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = json.loads(body)
        except ValueError:
            return "", body.decode("utf-8", "replace")[:500], None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return "", body[:500], None
    if not isinstance(body, Mapping):
        return "", _text(body)[:500], None
    inner: Any = body.get("error", body)
    if isinstance(inner, str):  # the 429 form: {"error": "too many requests"}
        return "", inner, body.get("details")
    if not isinstance(inner, Mapping):
        return "", _text(inner), None
    return _text(inner.get("code")), _text(inner.get("message") or inner.get("msg")), inner.get("details")


_BALANCE_WORDS = ("balance", "insufficient", "funds")
_CLOSED_WORDS = (
    "market_inactive",
    "market_closed",
    "market_not_open",
    "trading_paused",
    "inactive",
    "closed",
)


def _class_for(status: int, code: str) -> type[KalshiError]:
    lc = code.lower()
    if status == 429:
        return RateLimited
    if status == 401:
        return Unauthorized
    if status == 403:
        return Forbidden
    if status == 404:
        return NotFound
    if status == 0:  # a per-item error inside a 2xx batch response: only the code tells
        if "already_exists" in lc or "duplicate" in lc or "conflict" in lc:
            return Conflict
        if "not_found" in lc:
            return NotFound
        if "rate" in lc and "limit" in lc:
            return RateLimited
    if lc and any(w in lc for w in _BALANCE_WORDS):
        return InsufficientBalance
    if lc and any(w in lc for w in _CLOSED_WORDS):
        return MarketClosed
    if status == 409:
        return Conflict
    if status >= 500:
        return ExchangeUnavailable
    if status in (0, 400, 422):
        if "order" in lc or "invalid" in lc or "price" in lc or "count" in lc:
            return InvalidOrder
        return BadRequest
    return KalshiError


def error_from_response(
    status: int,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
    client_order_id: str | None = None,
) -> KalshiError:
    """Map an HTTP error response to the hierarchy (``status=0``: a per-item error of a batch response)."""
    code, message, details = parse_error_body(body)
    cls = _class_for(status, code)
    retry_after: float | None = None
    if headers is not None:
        raw = headers.get("retry-after") or headers.get("Retry-After")
        if raw:
            try:
                retry_after = float(raw)
            except ValueError:
                retry_after = None
    kwargs: dict[str, Any] = {
        "code": code or None,
        "http_status": status or None,
        "retry_after": retry_after,
        "details": details,
    }
    if cls is Conflict:
        return Conflict(message or "conflict", client_order_id=client_order_id, **kwargs)
    return cls(message or f"HTTP {status}", **kwargs)


def error_from_ws(frame: Mapping[str, Any]) -> WebSocketError:
    """Map a WS ``{"type": "error", "msg": {"code": int, "msg": str}}`` frame. Retired codes are a ProtocolError."""
    msg = frame.get("msg")
    if not isinstance(msg, Mapping) or "code" not in msg:
        raise ProtocolError("error frame is missing msg.code", obj="error", field="msg.code")
    code = msg["code"]
    if not isinstance(code, int) or isinstance(code, bool):
        raise ProtocolError(
            f"error frame msg.code must be an integer, got {code!r}", obj="error", field="code"
        )
    if code in RETIRED_WS_ERROR_CODES:
        raise ProtocolError(
            f"error frame uses retired WS error code {code} ({RETIRED_WS_ERROR_CODES[code]!r}); "
            "the server speaks a removed protocol version",
            obj="error",
            field="code",
        )
    tickers: tuple[str, ...] = ()
    if isinstance(msg.get("market_tickers"), list):
        tickers = tuple(str(t) for t in msg["market_tickers"])
    elif isinstance(msg.get("market_ticker"), str):
        tickers = (msg["market_ticker"],)
    return WebSocketError(
        code,
        str(msg.get("msg") or ""),
        sid=frame.get("sid"),
        command_id=frame.get("id"),
        market_tickers=tickers,
    )
