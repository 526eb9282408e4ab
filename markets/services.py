"""What the market pages show, read for the views: the list's filtered page of rows, a market's live state,
its chart and first trades (REST calls to the exchange, cached).

The views parse the request, call one function here and render."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import SafeString

from kalshiweb.exchange import make_client, run_blocking
from kalshiweb.kalshi.errors import KalshiError, NotFound
from markets import discovery, extensions, live, tape
from markets.models import Event, Market, Series, Watch, WatchList
from markets.templatetags.kalshi_format import cents_value

SORTS = {
    "volume": F("volume").desc(),
    "volume_24h": F("volume_24h").desc(),
    "close_time": F("close_time").asc(nulls_last=True),
    "spread": F("spread").asc(nulls_last=True),
    "ticker": F("ticker").asc(),
}
PAGE_SIZE = 50
CHART_PERIODS = {"1": "1m", "60": "1h", "1440": "1d"}
CHART_SPAN = {1: timedelta(hours=6), 60: timedelta(days=7), 1440: timedelta(days=180)}


def price_history(market: Market, period: int) -> tuple[list[dict[str, object]], str | None]:
    """Closing YES prices from the exchange's candlesticks (trade price, else the bid/ask mid)."""
    series = market.series_id
    end = timezone.now()
    if not market.is_open and market.close_time is not None and market.close_time < end:
        end = market.close_time + timedelta(minutes=period)  # a closed market's chart ends where trading did
    start = max(end - CHART_SPAN[period], market.open_time or end - CHART_SPAN[period])

    async def fetch() -> list[Any]:
        async with make_client(timeout=3.0, max_attempts=1) as client:
            try:
                if series is None:  # an archived market known only from /historical/markets
                    raise NotFound("unknown series")
                return await client.get_candlesticks(
                    series, market.ticker, start_ts=start, end_ts=end, period_interval=period
                )
            except NotFound:
                # settled before Kalshi's historical cutoff: its candles moved to /historical (issue #15)
                return await client.get_historical_candlesticks(
                    market.ticker, start_ts=start, end_ts=end, period_interval=period
                )

    try:
        candles = run_blocking(fetch)
    except (KalshiError, OSError) as exc:
        return [], str(exc)
    points = []
    for c in candles:
        price = _close(c)
        if price is None:
            continue
        traded = c.price.close is not None
        # The candle, in cents, opening at the period's start (what a candlestick chart puts on its time axis);
        # a period without trades is a flat candle at the mid, with no volume.
        o, h, lo = (c.price.open, c.price.high, c.price.low) if traded else (price, price, price)
        points.append(
            {
                "t": c.end_period.timestamp(),
                "price": price,
                "time": c.end_period_ts - period * 60,
                "open": cents_value(o if o is not None else price),
                "high": cents_value(h if h is not None else price),
                "low": cents_value(lo if lo is not None else price),
                "close": cents_value(price),
                "volume": str(c.volume.normalize()) if traded else "0",
            }
        )
    return points, None


def _close(candle: Any) -> Decimal | None:
    """A candle's closing YES price: the last trade's, else the bid/ask mid, else none."""
    price: Decimal | None = candle.price.close
    if price is None and candle.yes_bid.close is not None and candle.yes_ask.close is not None:
        price = (candle.yes_bid.close + candle.yes_ask.close) / 2
    return price


def event_history(event: Event, period: int = 60) -> tuple[list[dict[str, Any]], str | None]:
    """Each market's closing YES price per period from the exchange's event candlesticks (one request for the
    whole event), for the event page's chart: [{"ticker", "points": [{"time", "value" (cents)}]}]."""
    series = event.series_id
    if series is None:
        return [], "the event's series is not known here"
    end = timezone.now()
    start = end - CHART_SPAN[period]

    async def fetch() -> Any:
        async with make_client(timeout=3.0, max_attempts=1) as client:
            return await client.get_event_candlesticks(
                series, event.event_ticker, start_ts=start, end_ts=end, period_interval=period
            )

    try:
        answer = run_blocking(fetch)
    except (KalshiError, OSError) as exc:
        return [], str(exc)
    lines = []
    for ticker, candles in answer.by_market().items():
        points = [
            {"time": c.end_period_ts - period * 60, "value": cents_value(price)}
            for c in candles
            if (price := _close(c)) is not None
        ]
        lines.append({"ticker": ticker, "points": points})
    return lines, None


def recent_trades(ticker: str) -> list[dict[str, str]]:
    """The tape's first paint when the feed has not seen this market yet: GET /markets/trades, or for a market
    past Kalshi's historical cutoff /historical/trades (cached 15 s)."""
    cached = live.cached_json(f"kw:rest-trades:{ticker}")
    if cached is not None:
        return cached

    async def fetch() -> list[Any]:
        async with make_client(timeout=3.0, max_attempts=1) as client:
            trades = list((await client.get_trades(ticker=ticker, limit=30)).items)
            if not trades:  # none live: an archived market's trades moved to /historical/trades (issue #15)
                trades = list((await client.get_historical_trades(ticker=ticker, limit=30)).items)
            return trades

    try:
        trades = run_blocking(fetch)
    except (KalshiError, OSError):
        return []
    rows = [
        tape.trade_row(t.yes_price, t.count, t.taker_outcome_side, t.created_time, t.trade_id) for t in trades
    ]
    live.store_json(f"kw:rest-trades:{ticker}", rows, ttl=15)
    return rows


def _url_for_each_ticker(name: str) -> Callable[[str], str]:
    """`reverse(name, args=[ticker])` for many tickers at the cost of one reverse().

    reverse() percent-quotes the whole path character by character, so splicing the quoted ticker between the
    parts around a placeholder gives the same string; a ticker the `str` converter would refuse (empty, or
    with a slash) goes through reverse() itself and fails the same way."""
    head, tail = reverse(name, args=[_PLACEHOLDER]).split(_PLACEHOLDER)

    def url(ticker: str) -> str:
        if not ticker or "/" in ticker:
            return reverse(name, args=[ticker])
        return head + quote(ticker, safe=_URL_SAFE) + tail

    return url


_PLACEHOLDER = "KWTICKERPLACEHOLDER"
_URL_SAFE = RFC3986_SUBDELIMS + "/~:@"


def prepare_rows(markets: Iterable[Market]) -> list[dict[str, Any]]:
    """The values a list row renders (templates/markets/_fragments.html#market-row), computed in bulk.

    Each row is a plain dict with the same names as the Market attributes the shared partials read, so the
    partials render a Market (the feed, the polling row) and a row dict alike; a dict is what the template
    engine looks up fastest, and the links cost one reverse() per page instead of four per row."""
    detail = _url_for_each_ticker("markets:detail")
    row = _url_for_each_ticker("markets:row")
    watch = _url_for_each_ticker("markets:toggle_watch")
    rows = []
    for market in markets:
        ticker = market.ticker
        rows.append(
            {
                "ticker": ticker,
                # Escaped here once (the same escape the template would apply), so the template skips it.
                "dom_id": SafeString(market.dom_id),  # only [A-Za-z0-9_-]
                "detail_url": SafeString(html.escape(detail(ticker))),
                "row_url": SafeString(html.escape(row(ticker))),
                "watch_url": SafeString(html.escape(watch(ticker))),
                "display_title": market.display_title,
                "quote_ts": getattr(market, "quote_ts", None),
                "yes_bid": market.yes_bid,
                "yes_ask": market.yes_ask,
                "last_price": market.last_price,
                "change_24h": market.change_24h,
                "volume": market.volume,
                "close_time": market.close_time,
            }
        )
    return rows


# The columns a list row needs (prepare_rows, live.overlay_quote): the page's rows skip the rules, price
# ranges and other long columns.
ROW_FIELDS = (
    "ticker",
    "title",
    "yes_sub_title",
    "status",
    "close_time",
    *live.QUOTE_FIELDS,
    *live.COUNT_FIELDS,
    "previous_price",
    "spread",
)


def page_of_markets(markets: QuerySet[Market], number: str | None) -> tuple[Page, list[Market]]:
    """Paginate on the ticker alone (the count and the page are read from the sort's index), then load the
    page's 50 rows by primary key, in the page's order."""
    page = Paginator(markets.values_list("ticker", flat=True), PAGE_SIZE).get_page(number)
    tickers = list(page.object_list)
    rows = Market.objects.only(*ROW_FIELDS).in_bulk(tickers)
    return page, [rows[t] for t in tickers if t in rows]


def active_list(user: Any, *, create: bool = False) -> WatchList | None:
    """The list the star adds to: the one the trader looked at last (created as "Watchlist" when asked)."""
    if not getattr(user, "is_authenticated", False):
        return None
    found = WatchList.objects.filter(user=user).order_by("-selected_at", "-pk").first()
    if found is None and create:
        found, _ = WatchList.objects.get_or_create(user=user, name=WatchList.DEFAULT_NAME)
    return found


def watched_tickers(user: Any) -> set[str]:
    """The markets of the trader's active list (the filled stars)."""
    active = active_list(user)
    return set(active.watches.values_list("market_id", flat=True)) if active else set()


@dataclass(frozen=True)
class ListFilters:
    """The market list's filters, as the query string gives them."""

    q: str = ""
    status: str = "open"
    category: str = ""
    series: str = ""
    closing: str = ""
    sort: str = "volume"
    page: str | None = None
    tag: str = ""  # a series tag (issue #15 item 8: markets.discovery)
    sport: str = ""  # a sport from the exchange's filters_by_sport: the series tagged with it

    @classmethod
    def from_query(cls, query: QueryDict) -> ListFilters:
        return cls(
            q=query.get("q", ""),
            status=query.get("status", "open"),
            category=query.get("category", ""),
            series=query.get("series", ""),
            closing=query.get("closing", ""),
            sort=query.get("sort", "volume"),
            page=query.get("page"),
            tag=query.get("tag", ""),
            sport=query.get("sport", ""),
        )


def market_list(user: Any, filters: ListFilters) -> dict[str, Any]:
    """The market list page's context: one page of rows with live quotes, and the filter choices."""
    markets = Market.objects.search(filters.q)
    if filters.status in Market.STATUS_FILTERS:
        markets = markets.filter(status__in=Market.STATUS_FILTERS[filters.status])
    if filters.category:
        markets = markets.filter(Q(event__category=filters.category) | Q(series__category=filters.category))
    if filters.series:
        markets = markets.filter(series_id=filters.series)
    if filters.closing:
        markets = markets.closing_within(timedelta(hours=24))
    if filters.tag:
        markets = discovery.filter_by_tag(markets, filters.tag)
    if filters.sport:
        markets = discovery.filter_by_tag(markets, filters.sport)
    markets = markets.order_by(SORTS.get(filters.sort, SORTS["volume"]), "ticker")
    page, rows = page_of_markets(markets, filters.page)
    quotes = live.get_quotes([m.ticker for m in rows])
    for market in rows:
        live.overlay_quote(market, quotes.get(market.ticker))
    return {
        "page": page,
        "markets": prepare_rows(rows),
        "watched": watched_tickers(user),
        "filters": {
            "q": filters.q,
            "status": filters.status,
            "category": filters.category,
            "series": filters.series,
            "closing": filters.closing,
            "sort": filters.sort,
            "tag": filters.tag,
            "sport": filters.sport,
        },
        "tags_by_category": discovery.tags_by_category(),
        "sports": discovery.sports(),
        "incentive_tickers": discovery.incentive_tickers(),
        "categories": sorted({c for c in Series.objects.values_list("category", flat=True) if c}),
        "series_list": Series.objects.order_by("ticker"),
        "statuses": list(Market.STATUS_FILTERS),
        "sorts": list(SORTS),
        "live_tickers": [m.ticker for m in rows],
    }


def market_page(
    user: Any, market: Market, *, period: str, partial: str, chart_deferred: bool
) -> dict[str, Any]:
    """A market page's context (or the part `partial` re-renders): live quote, book and tape, the chart unless
    deferred. The trading panels are added by the view (`markets.extensions`)."""
    live.overlay_quote(market, live.get_quote(market.ticker))
    chart: list[dict[str, object]] = []
    chart_error: str | None = None
    if not chart_deferred:
        chart, chart_error = price_history(market, int(period))
    return {
        "market": market,
        "period": period,
        "periods": list(CHART_PERIODS.items()),
        "chart": chart,
        "chart_error": chart_error,
        "chart_deferred": chart_deferred,
        "book": live.get_book(market.ticker),
        "trades": live.get_trades(market.ticker)[:30]
        or (recent_trades(market.ticker) if partial in ("", "market-trades") else []),
        "watched": watched_tickers(user),
        "incentive": market.ticker in discovery.incentive_tickers(),
        "live_tickers": [market.ticker],
        "live_view": "detail",
    }


@dataclass(frozen=True)
class EventSums:
    """For a mutually exclusive event (exactly one market resolves YES): buying YES on every outcome at the asks
    costs `asks` and pays $1.00; selling YES on every outcome (buying every NO) at the bids takes in `bids` and
    pays $1.00. Below / above $1.00 the book offers that sum riskless, before fees."""

    asks: Decimal | None  # None: some outcome has no ask (the set cannot be bought)
    bids: Decimal | None

    @property
    def buy_all_edge(self) -> Decimal | None:
        return None if self.asks is None else Decimal(1) - self.asks

    @property
    def sell_all_edge(self) -> Decimal | None:
        return None if self.bids is None else self.bids - Decimal(1)

    @property
    def riskless(self) -> bool:
        return any(e is not None and e > 0 for e in (self.buy_all_edge, self.sell_all_edge))


def event_sums(markets: list[Market]) -> EventSums:
    def total(prices: list[Decimal | None]) -> Decimal | None:
        known = [p for p in prices if p is not None]
        return sum(known, Decimal(0)) if markets and len(known) == len(prices) else None

    return EventSums(asks=total([m.yes_ask for m in markets]), bids=total([m.yes_bid for m in markets]))


def _event_markets(event: Event) -> list[Market]:
    """The markets an event page shows: its open ones, or all of them once none is open."""
    markets = list(event.markets.filter(status__in=Market.OPEN_STATUSES).order_by("ticker"))
    return markets or list(event.markets.order_by("ticker"))


def outcome_label(market: Market) -> str:
    return market.yes_sub_title or market.display_title


def event_chart(event: Event) -> dict[str, Any]:
    """The event chart's context: a line for each market the page shows, labelled with its outcome."""
    labels = {m.ticker: outcome_label(m) for m in _event_markets(event)}
    lines, error = event_history(event)
    shown = [line | {"label": labels[line["ticker"]]} for line in lines if line["ticker"] in labels]
    return {"event": event, "lines": shown, "chart_error": error}


def event_page(user: Any, event: Event) -> dict[str, Any]:
    """All markets of an event side by side, live, with the trader's position in each and, for a mutually
    exclusive event, the sums of YES asks and bids against $1.00."""
    markets = _event_markets(event)
    quotes = live.get_quotes([m.ticker for m in markets])
    for market in markets:
        live.overlay_quote(market, quotes.get(market.ticker))
    markets.sort(key=lambda m: (-(m.last_price if m.last_price is not None else Decimal(-1)), m.ticker))
    held = extensions.positions_of(user, [m.ticker for m in markets])
    rows = prepare_rows(markets)
    for row, market in zip(rows, markets, strict=True):
        row["outcome"] = outcome_label(market)
        row["held"] = held.get(market.ticker)
    return {
        "event": event,
        "markets": rows,
        "sums": event_sums(markets) if event.mutually_exclusive else None,
        "watched": watched_tickers(user),
        "live_tickers": [m.ticker for m in markets],
    }


def watchlist(user: Any, list_id: int | None = None) -> dict[str, Any]:
    """One of the trader's lists (`list_id`, which becomes the active one; else the active one), live."""
    if list_id is not None:
        WatchList.objects.filter(user=user, pk=list_id).update(selected_at=timezone.now())
    active = active_list(user)
    watches = list(active.watches.select_related("market", "market__event")) if active else []
    quotes = live.get_quotes([w.market_id for w in watches])
    markets = [live.overlay_quote(w.market, quotes.get(w.market_id)) for w in watches]
    return {
        "markets": prepare_rows(markets),
        "watched": {m.ticker for m in markets},
        "lists": list(WatchList.objects.filter(user=user).annotate(size=Count("watches"))),
        "active": active,
        "live_tickers": [m.ticker for m in markets],
    }


class ListRefused(ValueError):
    pass


def create_list(user: Any, name: str) -> WatchList:
    """A new, empty list, made the active one (the star adds to it from now on)."""
    name = " ".join(name.split())[:40]
    if not name:
        raise ListRefused("Give the list a name.")
    if WatchList.objects.filter(user=user).count() >= MAX_LISTS:
        raise ListRefused(f"At most {MAX_LISTS} lists: delete one first.")
    if WatchList.objects.filter(user=user, name__iexact=name).exists():
        raise ListRefused(f"You already have a list called {name!r}.")
    return WatchList.objects.create(user=user, name=name)


def delete_list(user: Any, list_id: int) -> bool:
    deleted, _ = WatchList.objects.filter(user=user, pk=list_id).delete()
    return bool(deleted)


MAX_LISTS = 20


def toggle_watch(user: Any, market: Market) -> set[str]:
    """Put the market on the trader's active list, or take it off. Returns that list's tickers after."""
    active = active_list(user, create=True)
    assert active is not None
    deleted, _ = Watch.objects.filter(watchlist=active, market=market).delete()
    if not deleted:
        Watch.objects.get_or_create(watchlist=active, market=market, defaults={"user": user})
    return set(active.watches.values_list("market_id", flat=True))
