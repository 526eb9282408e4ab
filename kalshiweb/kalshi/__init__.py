"""Kalshi Trade API v2 client: signing, REST, WebSocket stream, order books, typed messages, errors.

No Django imports: settings are passed in. The same code path serves the built-in simulator, Kalshi's demo and
production — only the base URLs and the key change::

    client = KalshiClient(rest_base, key_id=key_id, private_key=pem_or_path)
    stream = KalshiStream(ws_url, key_id=key_id, private_key=pem_or_path)
"""

from __future__ import annotations

from .auth import KalshiSigner, KeyLoadError
from .book import DepthLevel, FillEstimate, OrderBook
from .errors import (
    BadRequest,
    Conflict,
    ExchangeUnavailable,
    Forbidden,
    InsufficientBalance,
    InvalidOrder,
    KalshiError,
    MarketClosed,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    Unauthorized,
    WebSocketError,
)
from .messages import parse_message
from .models import OrderRequest
from .ratelimit import InMemoryRateLimiter, RateLimitConfig, RedisRateLimiter
from .rest import DEMO, PRODUCTION, KalshiClient, KalshiEnvironment, book_order
from .stream import KalshiStream, SequenceGap, StreamHealth, Subscription
from .sync import KalshiSyncClient

__all__ = [
    "DEMO",
    "PRODUCTION",
    "BadRequest",
    "Conflict",
    "DepthLevel",
    "ExchangeUnavailable",
    "FillEstimate",
    "Forbidden",
    "InMemoryRateLimiter",
    "InsufficientBalance",
    "InvalidOrder",
    "KalshiClient",
    "KalshiEnvironment",
    "KalshiError",
    "KalshiSigner",
    "KalshiStream",
    "KalshiSyncClient",
    "KeyLoadError",
    "MarketClosed",
    "NotFound",
    "OrderBook",
    "OrderRequest",
    "OutcomeUnknown",
    "ProtocolError",
    "RateLimitConfig",
    "RateLimited",
    "RedisRateLimiter",
    "SequenceGap",
    "StreamHealth",
    "Subscription",
    "Unauthorized",
    "WebSocketError",
    "book_order",
    "parse_message",
]
