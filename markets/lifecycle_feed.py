"""Market lifecycle and event fee overrides, live (issue #15 items 5 and 4): the feed leader's `market_lifecycle_v2` stream.

Every market's status change (activated, deactivated, close date moved, determined, settled) is written to
the market row at once and pushed to every page watching the market: the status badge is swapped in place
and `kw:market-status` is signalled, on which the ticket re-renders (and locks: the server refuses a
market that is not open) and the portfolio re-reads. Pages on the polling fallback re-read the badge with
their other widgets (`?partial=market-status`).

A page's socket keeps only the newest frame of a market, so a quote frame right behind a status frame could
replace it before it is sent: the status frame is published again STATUS_REPEAT_SECONDS later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.template.loader import render_to_string

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi.stream import Connected, KalshiStream, StreamError
from markets import fees
from markets.hub import market_channel, sign_frame
from markets.models import Market

log = logging.getLogger(__name__)

CHANNELS = ("market_lifecycle_v2",)
STATUS_BY_EVENT = {
    "activated": "active",
    "deactivated": "inactive",
    "determined": "determined",
    "settled": "finalized",
}
STATUS_REPEAT_SECONDS = 1.5
MARKET_STATUS_CHANGED = '<div id="kw-signal" hx-swap-oob="true" data-event="kw:market-status" hidden></div>'
FEE_CHANGED = '<div id="kw-signal" hx-swap-oob="true" data-event="kw:fee-changed" hidden></div>'


def apply_lifecycle(msg: Any, now: datetime | None = None) -> Market | None:
    """Write one `market_lifecycle_v2` message to its market row; the row if it changed (None for a market
    we do not list, or a message that changes nothing we show)."""
    market = Market.objects.filter(ticker=msg.market_ticker).first()
    if market is None:
        return None
    now = now or datetime.now(UTC)
    changed: list[str] = []
    status = STATUS_BY_EVENT.get(msg.event_type)
    if msg.event_type == "activated" and market.status not in ("inactive", "initialized"):
        status = None  # an activation never reopens a closed or settled market
    if msg.event_type == "close_date_updated" and msg.close_ts is not None:
        market.close_time = msg.close_ts
        changed.append("close_time")
        if msg.close_ts <= now and market.status in ("active", "inactive", "initialized"):
            status = "closed"
    if msg.event_type in ("determined", "settled") and msg.result in ("yes", "no", "scalar"):
        market.result = msg.result
        changed.append("result")
    if status is not None and status != market.status:
        market.status = status
        changed.append("status")
    if not changed:
        return None
    market.save(update_fields=changed)
    return market


def status_update(market: Market) -> dict[str, Any]:
    """The frame pages get: the badge (detail view) and the signal the ticket and portfolio act on."""
    badge = render_to_string("markets/market_detail.html#market-status", {"market": market, "oob": True})
    return {
        "ticker": market.ticker,
        "slot": "status",  # kept beside the market's quotes in each page's buffer (markets.consumers.offer)
        "ts": time.time(),
        "detail": badge + MARKET_STATUS_CHANGED,
        "row": MARKET_STATUS_CHANGED,
        "status": market.status,
    }


def apply_fee_update(msg: Any) -> list[str]:
    """An `event_fee_update`: store the event's override (or clear it); the tickers of its markets."""
    return fees.set_event_override(msg.event_ticker, msg.fee_type_override, msg.fee_multiplier_override)


def publish_fee_changed(client: redis.Redis, tickers: list[str]) -> None:
    """Each market's page re-asks its ticket preview (which reads the schedule now in force)."""
    with client.pipeline(transaction=False) as pipe:
        for ticker in tickers:
            update = {
                "ticker": ticker,
                "slot": "fee",
                "ts": time.time(),
                "detail": FEE_CHANGED,
                "fee_changed": True,
            }
            pipe.publish(market_channel(ticker), sign_frame(ticker, json.dumps(update)))
        pipe.execute()


def publish_status(client: redis.Redis, market: Market) -> None:
    client.publish(
        market_channel(market.ticker), sign_frame(market.ticker, json.dumps(status_update(market)))
    )


class LifecycleStream:
    """The leader task: one upstream socket on `market_lifecycle_v2` (it carries every market)."""

    def __init__(self, *, backoff_cap: float = 30.0) -> None:
        self.backoff_cap = backoff_cap
        self.handled = 0
        self._redis: redis.Redis | None = None

    def _client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(settings.REDIS_URL)
        return self._redis

    def handle_fee(self, msg: Any) -> list[str]:
        tickers = apply_fee_update(msg)
        if tickers:
            publish_fee_changed(self._client(), tickers)
        return tickers

    def handle(self, msg: Any) -> Market | None:
        market = apply_lifecycle(msg)
        if market is not None:
            publish_status(self._client(), market)
        return market

    async def run(self) -> None:
        from kalshiweb.exchange import default_credentials

        key_id, key_path = default_credentials()
        stream = KalshiStream(
            settings.KALSHI_WS_URL,
            key_id=key_id,
            private_key=key_path,
            maintain_books=False,
            backoff_cap=self.backoff_cap,
        )
        await stream.start(wait=False)
        subscribed = False
        try:
            async for item in stream:
                try:
                    if isinstance(item, Connected) and not subscribed:
                        await stream.subscribe(list(CHANNELS), None)
                        subscribed = True
                    elif isinstance(item, StreamError):
                        log.warning("lifecycle stream: %s", item.error)
                    elif isinstance(item, m.EventFeeUpdate):
                        await asyncio.to_thread(self.handle_fee, item)
                    elif isinstance(item, m.MarketLifecycle):
                        market = await asyncio.to_thread(self.handle, item)
                        self.handled += 1
                        if market is not None:
                            asyncio.get_running_loop().call_later(
                                STATUS_REPEAT_SECONDS, self._repeat, market.ticker
                            )
                except Exception:  # one bad message must never stop the stream
                    log.exception("lifecycle stream: could not handle %s", type(item).__name__)
        finally:
            with contextlib.suppress(Exception):
                await stream.close()

    def _repeat(self, ticker: str) -> None:
        async def again() -> None:
            def publish() -> None:
                market = Market.objects.filter(ticker=ticker).first()
                if market is not None:
                    publish_status(self._client(), market)

            with contextlib.suppress(Exception):
                await asyncio.to_thread(publish)

        asyncio.get_running_loop().create_task(again())
