"""Market lifecycle and event fee overrides, live (issue #15 items 5 and 4): the feed leader's `market_lifecycle_v2` stream.

Every market's status change (activated, deactivated, close date moved, determined, settled) is written to
the market row at once and pushed to every page watching the market: the status badge is swapped in place
and `kw:market-status` is signalled, on which the ticket re-renders (and locks: the server refuses a
market that is not open) and the portfolio re-reads. Pages on the polling fallback re-read the badge with
their other widgets (`?partial=market-status`).

Kalshi does not replay lifecycle messages sent while nobody was connected: each time the stream (re)connects
(the first connection included: the feed's start-up sync ran a moment before it subscribed), it catches up
over REST once its subscription is back — a full market sync, then a status frame for every market whose
status, result or close time the sync changed.

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
from django.utils import timezone

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi.stream import Connected, KalshiStream, StreamError
from kalshiweb.kalshi.subscriptions import Subscription
from markets import fees
from markets.hub import market_channel, sign_frame
from markets.models import Market
from markets.sync import sync_listing, sync_markets

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
    market.lifecycle_at = timezone.now()  # the wall clock a sync's read_at is compared with (markets.sync)
    market.save(update_fields=[*changed, "lifecycle_at"])
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


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("lifecycle stream: could not catch up over REST: %s", task.exception())


class LifecycleStream:
    """The leader task: one upstream socket on `market_lifecycle_v2` (it carries every market)."""

    def __init__(self, *, backoff_cap: float = 30.0) -> None:
        self.backoff_cap = backoff_cap
        self.handled = 0
        self.catch_ups = 0  # completed REST catch-ups (one per connection)
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

    def catch_up(self) -> list[str]:
        """Sync the markets over REST and tell pages about each one whose state changed meanwhile; the
        changed tickers."""
        fields = ("ticker", "status", "result", "close_time")
        before = {row[0]: row[1:] for row in Market.objects.values_list(*fields)}
        result = sync_markets()
        changed = [
            market
            for market in Market.objects.only(*fields, "event_id")
            if market.ticker in before
            and before[market.ticker] != (market.status, market.result, market.close_time)
        ]
        for market in changed:
            publish_status(self._client(), market)
        log.info("lifecycle stream: caught up over REST (%s): %d market(s) changed", result, len(changed))
        self.catch_ups += 1
        return [market.ticker for market in changed]

    async def _catch_up_when_active(self, handle: Subscription) -> list[str]:
        await asyncio.wait_for(handle.active.wait(), timeout=30)
        return await asyncio.to_thread(self.catch_up)

    def handle_new_event(self, msg: Any) -> None:
        sync_listing(event_ticker=msg.event_ticker)

    def handle(self, msg: Any) -> Market | None:
        if msg.event_type == "created" and not Market.objects.filter(ticker=msg.market_ticker).exists():
            sync_listing(market_ticker=msg.market_ticker)  # listed now, not at the next full sync
            return None
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
        loop = asyncio.get_running_loop()
        handle: Subscription | None = None
        try:
            async for item in stream:
                try:
                    if isinstance(item, Connected):
                        if handle is None:
                            handle = await stream.subscribe_or_recycle(list(CHANNELS), None)
                            if handle is None:
                                continue  # refused: again on the fresh connection
                        # On a reconnect the stream restores the subscription itself: catch up once it is
                        # back, so that nothing falls between the messages and the REST snapshot.
                        catching_up = loop.create_task(self._catch_up_when_active(handle))
                        catching_up.add_done_callback(_log_failure)
                    elif isinstance(item, StreamError):
                        log.warning("lifecycle stream: %s", item.error)
                    elif isinstance(item, m.EventFeeUpdate):
                        await asyncio.to_thread(self.handle_fee, item)
                    elif isinstance(item, m.EventLifecycle):
                        await asyncio.to_thread(self.handle_new_event, item)
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
