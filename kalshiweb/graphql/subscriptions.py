"""Subscriptions (graphql-transport-ws over the Channels WebSocket), fed by what already flows in each server
process: a trader's order and fill changes arrive on the `user.<id>` channel-layer group that
`trading.lifecycle.notify_user` sends to after each commit (the browser pages' pushes), and market quotes on
the process's one `markets.hub.Hub` subscription (the feed's published frames). Nothing here asks the exchange."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from django.db.models import Max, Q
from strawberry.types import Info

from kalshiweb.graphql.context import actor
from kalshiweb.graphql.errors import BAD_INPUT, NOT_FOUND, ApiError
from kalshiweb.graphql.types import FillType, MarketTick, OrderType, dec
from markets.hub import get_hub
from markets.live import quote_key
from markets.models import Market
from trading.models import Fill, Order

# A push is a hint to re-read the database; without one for this long the subscription re-reads anyway (a push
# lost while Redis blinked must not leave a script waiting forever).
RESYNC_SECONDS = 10.0
MAX_TICKER_MARKETS = 50
# How far back each re-read looks past the newest change it saw (a worker's change can commit after a later one).
CHANGE_MARGIN = timedelta(seconds=60)


def _signature(o: Order) -> tuple[Any, ...]:
    return (o.status, o.fill_count, o.remaining_count, o.cancel_requested, o.amend_price, o.exchange_order_id)


async def _pushes(info: Info, user_id: int) -> AsyncGenerator[None, None]:
    """Yield once when listening has started, then again whenever the trader's pages are told something (the
    frames of one change come together: they are taken as one), or after RESYNC_SECONDS without any."""
    ws = info.context["ws"]
    first = True
    while True:
        group = [f"user.{user_id}"]
        async with ws.listen_to_channel("user.update", timeout=RESYNC_SECONDS, groups=group) as messages:
            if first:
                first = False
                yield
            async for _ in messages:
                await asyncio.sleep(0.05)
                yield
        yield  # quiet for RESYNC_SECONDS: read anyway


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Your orders as they change (every change of status, fills, cancel)."
    )
    async def order_updates(
        self, info: Info, market_id: str | None = None
    ) -> AsyncGenerator[OrderType, None]:
        user = actor(info).user
        seen: dict[int, tuple[Any, ...]] = {}
        since = datetime.now(UTC) - CHANGE_MARGIN

        def changed() -> list[Order]:
            # Every open order (a few; a refused cancel changes one without touching updated_at) and every order
            # changed lately: a change committed late, with an earlier updated_at, is still inside the margin.
            nonlocal since
            orders = Order.objects.for_user(user).filter(
                Q(updated_at__gte=since) | Q(status__in=Order.OPEN_STATUSES)
            )
            if market_id is not None:
                orders = orders.filter(ticker=market_id)
            out = []
            newest = since
            for order in orders.order_by("updated_at", "pk")[:1000]:
                signature = _signature(order)
                newest = max(newest, order.updated_at)
                if seen.get(order.pk) != signature:
                    seen[order.pk] = signature
                    out.append(order)
            since = max(since, newest - CHANGE_MARGIN)
            if len(seen) > 5000:  # a long subscription: forget final orders last changed before the margin
                keep = set(
                    Order.objects.for_user(user)
                    .filter(Q(updated_at__gte=since) | Q(status__in=Order.OPEN_STATUSES))
                    .values_list("pk", flat=True)
                )
                for pk in [pk for pk in seen if pk not in keep]:
                    del seen[pk]
            return out

        def prime() -> None:
            # What exists now is not news: remember it, report only what changes from here on.
            for order in Order.objects.for_user(user).filter(
                Q(updated_at__gte=since) | Q(status__in=Order.OPEN_STATUSES)
            ):
                seen[order.pk] = _signature(order)

        first = True
        async for _ in _pushes(info, user.pk):
            if first:
                await sync_to_async(prime)()
                first = False
                continue
            for order in await sync_to_async(changed)():
                yield OrderType.of(order)

    @strawberry.subscription(description="Your fills as they are recorded.")
    async def fills(self, info: Info, market_id: str | None = None) -> AsyncGenerator[FillType, None]:
        user = actor(info).user
        last = 0

        def newer() -> list[Fill]:
            nonlocal last
            fills = Fill.objects.filter(user=user, pk__gt=last)
            if market_id is not None:
                fills = fills.filter(ticker=market_id)
            found = list(fills.order_by("pk")[:500])
            if found:
                last = found[-1].pk
            return found

        def start() -> None:
            nonlocal last
            last = Fill.objects.aggregate(top=Max("pk"))["top"] or 0

        first = True
        async for _ in _pushes(info, user.pk):
            if first:
                await sync_to_async(start)()
                first = False
                continue
            for fill in await sync_to_async(newer)():
                yield FillType.of(fill)

    @strawberry.subscription(description="Quotes of these markets as the feed publishes them (latest wins).")
    async def market_ticker(self, info: Info, market_ids: list[str]) -> AsyncGenerator[MarketTick, None]:
        actor(info)
        tickers = list(dict.fromkeys(market_ids))
        if not 1 <= len(tickers) <= MAX_TICKER_MARKETS:
            raise ApiError(BAD_INPUT, f"Give 1 to {MAX_TICKER_MARKETS} market ids.", field="marketIds")
        known = await sync_to_async(_known_markets)(tickers)
        unknown = [t for t in tickers if t not in known]
        if unknown:
            raise ApiError(NOT_FOUND, f"No market {unknown[0][:120]!r}.", field="marketIds")
        listener = _TickerListener()
        hub = get_hub()
        await hub.attach(listener)
        await hub.watch(listener, tickers)
        try:
            while True:
                ticker = await listener.next()
                raw = await hub.redis().get(quote_key(ticker))
                quote = _quote(raw)
                yield MarketTick(
                    market_id=ticker,
                    yes_bid=dec(quote.get("yes_bid")),
                    yes_ask=dec(quote.get("yes_ask")),
                    no_bid=dec(quote.get("no_bid")),
                    no_ask=dec(quote.get("no_ask")),
                    last_price=dec(quote.get("last_price")),
                    at=datetime.now(UTC),
                )
        finally:
            hub.detach(listener)
            await hub.unwatch(listener, tickers)


def _known_markets(tickers: list[str]) -> set[str]:
    return set(Market.objects.filter(ticker__in=tickers).values_list("ticker", flat=True))


def _quote(raw: Any) -> dict[str, Any]:
    import json

    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _TickerListener:
    """A `markets.hub.Listener`: the hub offers it each market update; it keeps only which markets changed
    (latest wins, like the browser sockets), so a slow subscriber never queues up stale quotes."""

    def __init__(self) -> None:
        self.dirty: dict[str, None] = {}
        self.event = asyncio.Event()

    def offer(self, ticker: str, update: dict[str, Any]) -> None:
        self.dirty[ticker] = None
        self.event.set()

    def close_soon(self, code: int) -> None:
        self.event.set()

    async def next(self) -> str:
        while not self.dirty:
            self.event.clear()
            await self.event.wait()
        ticker = next(iter(self.dirty))
        del self.dirty[ticker]
        return ticker
