from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from markets import live
from markets.models import Market, Series, Watch

SORTS = {
    "volume": F("volume").desc(),
    "volume_24h": F("volume_24h").desc(),
    "close_time": F("close_time").asc(nulls_last=True),
    "spread": F("spread").asc(nulls_last=True),
    "ticker": F("ticker").asc(),
}
PAGE_SIZE = 50


def _watched_tickers(request: HttpRequest) -> set[str]:
    return set(Watch.objects.filter(user=request.user).values_list("market_id", flat=True))


@require_GET
@login_required
def market_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    status = request.GET.get("status", "open")
    category = request.GET.get("category", "")
    series = request.GET.get("series", "")
    closing = request.GET.get("closing", "")
    sort = request.GET.get("sort", "volume")
    markets = Market.objects.select_related("event", "series").search(q)
    if status in Market.STATUS_FILTERS:
        markets = markets.filter(status__in=Market.STATUS_FILTERS[status])
    if category:
        markets = markets.filter(event__category=category) | markets.filter(series__category=category)
    if series:
        markets = markets.filter(series_id=series)
    if closing:
        markets = markets.closing_within(timedelta(hours=24))
    markets = markets.order_by(SORTS.get(sort, SORTS["volume"]), "ticker")
    page = Paginator(markets, PAGE_SIZE).get_page(request.GET.get("page"))
    for market in page:
        live.overlay_quote(market, live.get_quote(market.ticker))
    context = {
        "page": page,
        "markets": list(page),
        "watched": _watched_tickers(request),
        "filters": {"q": q, "status": status, "category": category, "series": series, "closing": closing, "sort": sort},
        "categories": sorted({c for c in Series.objects.values_list("category", flat=True) if c}),
        "series_list": Series.objects.order_by("ticker"),
        "statuses": list(Market.STATUS_FILTERS),
        "sorts": list(SORTS),
        "live_tickers": [m.ticker for m in page],
    }
    template = "markets/market_list.html"
    if request.htmx and request.htmx.target == "market-table":
        template += "#market-table"
    return render(request, template, context)


@require_GET
@login_required
def market_detail(request: HttpRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(Market.objects.select_related("event", "series"), ticker=ticker)
    live.overlay_quote(market, live.get_quote(ticker))
    context = {
        "market": market,
        "book": live.get_book(ticker),
        "trades": live.get_trades(ticker)[:30],
        "watched": _watched_tickers(request),
        "live_tickers": [ticker],
        "live_view": "detail",
    }
    template = "markets/market_detail.html"
    partial = request.GET.get("partial", "")
    if request.htmx and partial in {"market-quote", "market-book", "market-trades"}:
        template += f"#{partial}"
    return render(request, template, context)


@require_GET
@login_required
def market_row(request: HttpRequest, ticker: str) -> HttpResponse:
    """The live quote cells of one market row (the polling fallback of the list and watchlist)."""
    market = get_object_or_404(Market, ticker=ticker)
    live.overlay_quote(market, live.get_quote(ticker))
    return render(request, "markets/_fragments.html#row-quote", {"market": market})


@require_GET
@login_required
def watchlist(request: HttpRequest) -> HttpResponse:
    markets = [
        live.overlay_quote(w.market, live.get_quote(w.market_id))
        for w in Watch.objects.filter(user=request.user).select_related("market", "market__event")
    ]
    context = {"markets": markets, "watched": {m.ticker for m in markets}, "live_tickers": [m.ticker for m in markets]}
    return render(request, "markets/watchlist.html", context)


@require_POST
@login_required
def toggle_watch(request: HttpRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(Market, ticker=ticker)
    deleted, _ = Watch.objects.filter(user=request.user, market=market).delete()
    if not deleted:
        Watch.objects.get_or_create(user=request.user, market=market)
    if request.htmx:
        return render(
            request, "markets/_fragments.html#star", {"market": market, "watched": _watched_tickers(request)}
        )
    return redirect(request.POST.get("next") or "markets:list")


@require_GET
@login_required
def feed_status(request: HttpRequest) -> HttpResponse:
    return render(request, "markets/_fragments.html#feed-status", {"health": live.feed_health()})
