"""Live market state that the feed keeps in Redis, read by page views for the first paint.

Keys (all JSON strings):
  kw:quote:<ticker>   latest quote {yes_bid, yes_ask, no_bid, no_ask, last_price, volume, open_interest,
                      yes_bid_size, yes_ask_size, ts}
  kw:book:<ticker>    latest book {yes: [[price, size], ...], no: [[price, size], ...], stale: bool, ts}
  kw:trades:<ticker>  recent trades, newest first [{price, count, side, ts}, ...]
  kw:feed:health      the feed's health {connected, last_message_age, reconnects, gaps, ts}
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings

from markets.hub import WATCH_PREFIX

log = logging.getLogger(__name__)

HEALTH_KEY = "kw:feed:health"


def quote_key(ticker: str) -> str:
    return f"kw:quote:{ticker}"


def book_key(ticker: str) -> str:
    return f"kw:book:{ticker}"


QUOTE_FIELDS = ("yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "yes_bid_size", "yes_ask_size")
COUNT_FIELDS = ("volume", "open_interest")


@lru_cache(maxsize=1)
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _get_json(key: str) -> Any:
    try:
        raw = client().get(key)
    except redis.RedisError as exc:
        log.warning("redis unavailable reading %s: %s", key, exc)
        return None
    return _parse(key, raw)


def _parse(key: str, raw: Any) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        log.warning("ignoring malformed JSON in %s", key)
        return None


def get_json_many(keys: list[str]) -> list[Any]:
    """Several keys in one round trip (MGET), each parsed; None for a missing or malformed one, and for all of
    them when Redis is unavailable (as for a single read)."""
    try:
        raw = client().mget(keys)
    except redis.RedisError as exc:
        log.warning("redis unavailable reading %s: %s", ", ".join(keys), exc)
        return [None] * len(keys)
    return [_parse(key, value) for key, value in zip(keys, raw, strict=True)]


def get_quote(ticker: str) -> dict[str, Any] | None:
    return _get_json(quote_key(ticker))


def get_quotes(tickers: list[str]) -> dict[str, dict[str, Any]]:
    """Latest quotes for many markets in one round trip."""
    if not tickers:
        return {}
    try:
        raw = client().mget([quote_key(t) for t in tickers])
    except redis.RedisError as exc:
        log.warning("redis unavailable reading quotes: %s", exc)
        return {}
    quotes = {}
    for ticker, value in zip(tickers, raw, strict=True):
        if value is None:
            continue
        try:
            quotes[ticker] = json.loads(value)
        except ValueError:
            log.warning("ignoring malformed JSON in kw:quote:%s", ticker)
    return quotes


def get_book(ticker: str) -> dict[str, Any] | None:
    return _get_json(book_key(ticker))


def get_trades(ticker: str) -> list[dict[str, Any]]:
    return _get_json(f"kw:trades:{ticker}") or []


def feed_health() -> dict[str, Any] | None:
    return _get_json(HEALTH_KEY)


def overlay_quote(market: Any, quote: dict[str, Any] | None) -> Any:
    """Copy a live quote onto a Market instance (in memory only) so pages render current prices."""
    if not quote:
        market.quote_ts = None
        return market
    for name in (*QUOTE_FIELDS, *COUNT_FIELDS):
        value = quote.get(name)
        if value is not None and value != "":
            setattr(market, name, Decimal(str(value)))
    if market.yes_bid is not None and market.yes_ask is not None:
        market.spread = market.yes_ask - market.yes_bid
    market.quote_ts = quote.get("ts")
    return market


def cached_json(key: str) -> Any:
    return _get_json(key)


def store_json(key: str, value: Any, *, ttl: int) -> None:
    try:
        client().set(key, json.dumps(value), ex=ttl)
    except redis.RedisError as exc:
        log.warning("redis unavailable writing %s: %s", key, exc)


WATCH_TTL_SECONDS = 30


def keep_watched(owner: str, tickers: list[str]) -> None:
    """Keep the feed subscribed to these markets for a server-side task (`owner`: "brackets", "alerts") while
    no browser watches them: the same kind of watch set a server process keeps (markets.hub), refreshed by each
    pass of the task and gone 30 s after the task stops. A Redis failure is logged; the next pass tries again."""
    key = f"{WATCH_PREFIX}{owner}"  # the prefix the feed scans
    try:
        pipe = client().pipeline()
        pipe.delete(key)
        if tickers:
            pipe.sadd(key, *tickers)
            pipe.expire(key, WATCH_TTL_SECONDS)
        pipe.execute()
    except Exception as exc:  # the feed only misses markets nobody watches
        log.warning("%s: could not refresh the feed's watch set: %s", owner, exc)
