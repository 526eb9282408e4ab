"""The market pages. Each view parses the request, calls one function of `markets.services` and renders."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from kalshiweb.http import TraderRequest
from markets import discovery, extensions, live, services
from markets.models import Event, Market


@require_GET
@login_required
def market_list(request: TraderRequest) -> HttpResponse:
    context = services.market_list(request.user, services.ListFilters.from_query(request.GET))
    template = "markets/market_list.html"
    if request.htmx and request.htmx.target == "market-table":
        template += "#market-table"
    return render(request, template, context)


@require_GET
@login_required
def market_detail(request: TraderRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(Market.objects.select_related("event", "series"), ticker=ticker)
    period = request.GET.get("period", "60")
    period = period if period in services.CHART_PERIODS else "60"
    partial = request.GET.get("partial", "")
    # The chart needs a REST call: the full page defers it (hx-trigger="load") so the first paint is fast.
    chart_deferred = partial != "market-chart" and not request.GET.get("period")
    context = services.market_page(
        request.user, market, period=period, partial=partial, chart_deferred=chart_deferred
    )
    if not partial:
        context.update(extensions.market_page_panels(request, market))  # the ticket, the trader's orders…
    template = "markets/market_detail.html"
    if request.htmx and partial in {
        "market-quote",
        "market-book",
        "market-trades",
        "market-chart",
        "market-status",
    }:
        template += f"#{partial}"
    return render(request, template, context)


@require_GET
@login_required
def market_row(request: TraderRequest, ticker: str) -> HttpResponse:
    """The live quote cells of one market row (the polling fallback of the list and watchlist)."""
    market = get_object_or_404(Market, ticker=ticker)
    live.overlay_quote(market, live.get_quote(ticker))
    return render(request, "markets/_fragments.html#row-quote", {"market": market})


@require_GET
@login_required
def event_detail(request: TraderRequest, event_ticker: str) -> HttpResponse:
    event = get_object_or_404(Event, event_ticker=event_ticker)
    # The chart needs a REST call: the page loads it after its first paint (hx-trigger="load").
    if request.GET.get("partial") == "event-chart":
        return render(request, "markets/event_detail.html#event-chart", services.event_chart(event))
    context = services.event_page(request.user, event) | {"chart_deferred": True}
    return render(request, "markets/event_detail.html", context)


@require_GET
@login_required
def watchlist(request: TraderRequest) -> HttpResponse:
    raw = request.GET.get("list", "")
    list_id = int(raw) if raw.isdigit() else None
    return render(request, "markets/watchlist.html", services.watchlist(request.user, list_id))


@require_POST
@login_required
def watchlist_create(request: TraderRequest) -> HttpResponse:
    try:
        created = services.create_list(request.user, request.POST.get("name", ""))
    except services.ListRefused as exc:
        context = services.watchlist(request.user) | {
            "list_error": str(exc),
            "list_name": request.POST.get("name", ""),
        }
        return render(request, "markets/watchlist.html", context, status=400)
    return HttpResponseRedirect(f"{reverse('markets:watchlist')}?list={created.pk}")


@require_POST
@login_required
def watchlist_delete(request: TraderRequest, list_id: int) -> HttpResponse:
    if not services.delete_list(request.user, list_id):
        raise Http404("no such list")
    return HttpResponseRedirect(reverse("markets:watchlist"))


@require_POST
@login_required
def toggle_watch(request: TraderRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(Market, ticker=ticker)
    watched = services.toggle_watch(request.user, market)
    if request.htmx:
        return render(request, "markets/_fragments.html#star", {"market": market, "watched": watched})
    # A plain form post returns to its `next` only when that is a page on this site (never a URL name or
    # another host: `next` is whatever the client sent).
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("markets:list")
    return HttpResponseRedirect(target)


@require_GET
@login_required
def feed_status(request: TraderRequest) -> HttpResponse:
    return render(request, "markets/_fragments.html#feed-status", {"health": live.feed_health()})


@login_required
@require_GET
def exchange_status(request: TraderRequest) -> HttpResponse:
    """The top bar's exchange strip, polled: the last diagnosis of the deployment's exchange and key."""
    return render(request, "markets/_exchange_status.html")


@require_GET
@login_required
def live_game(request: TraderRequest, ticker: str) -> HttpResponse:
    """A sports market's live game state (score, period), polled by the market page (issue #15 item 8)."""
    market = get_object_or_404(Market.objects.only("ticker", "event_id"), ticker=ticker)
    game = discovery.live_game(market.event_id) if market.event_id else None
    return render(request, "markets/_live_game.html", {"market": market, "game": game})
