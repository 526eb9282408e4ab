from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kalshiweb.http import TraderRequest
from markets.models import Market
from portfolio import services
from portfolio.models import Settlement
from portfolio.tasks import request_refresh
from trading.balance import cached_balance
from trading.models import KalshiAccount
from trading.services import position, trader_profile

FILLS_PAGE_SIZE = 100
CSV_COLUMNS = [
    "time",
    "fill_id",
    "ticker",
    "side",
    "book_side",
    "contracts",
    "price",
    "yes_price",
    "fee",
    "role",
    "order_id",
]


def _account(request: TraderRequest) -> KalshiAccount | None:
    profile = trader_profile(request.user)
    return profile.account if profile else None


def _account_wide(request: TraderRequest) -> bool:
    """Staff may ask for the whole account (every trader's fills and fills placed outside the app) with
    ?scope=account; everyone else, and staff by default, sees their own fills only."""
    return bool(request.user.is_staff and request.GET.get("scope") == "account")


def _owner(request: TraderRequest) -> Any:
    """Whose fills a page shows: the trader's, or None for the account-wide staff view."""
    return None if _account_wide(request) else request.user


@require_GET
@login_required
def portfolio(request: TraderRequest) -> HttpResponse:
    account = _account(request)
    if account is None:
        return render(request, "portfolio/portfolio.html", {"account": None})
    if request.GET.get("refresh") and not request.htmx:
        request_refresh(account.pk)
        return redirect("portfolio:index")
    view = services.build_view(account, _owner(request))
    if view.stale and view.refreshable:
        # Never block on Kalshi: show what we have, marked stale, and let a worker fetch the rest.
        view.refreshing = request_refresh(account.pk) or view.refreshing
    equity = services.equity_points(account)
    context = {
        "account": account,
        "view": view,
        "stale_after": services.STALE_AFTER,
        "equity": equity,
        "equity_series": services.equity_series(equity),
        "settlements": Settlement.objects.filter(account=account)[:10],
        "live_tickers": view.tickers,
        "live_view": "portfolio",  # the socket sends this page the portfolio's fragments, not market rows
    }
    return render(request, "portfolio/portfolio.html", context)


@require_GET
@login_required
def portfolio_live(request: TraderRequest) -> HttpResponse:
    """The figures and positions (the same partial the socket pushes). A stale snapshot queues a refresh."""
    account = _account(request)
    if account is None:
        return HttpResponse(status=204)
    view = services.build_view(account, _owner(request))
    if view.stale and view.refreshable:
        view.refreshing = request_refresh(account.pk) or view.refreshing
    return render(
        request,
        "portfolio/portfolio.html#portfolio-live",
        {"view": view, "stale_after": services.STALE_AFTER},
    )


@require_GET
@login_required
def holdings(request: TraderRequest, ticker: str) -> HttpResponse:
    """The ticket's "Position · Balance" line, re-read when a push says the balance or a position moved."""
    market = Market.objects.filter(ticker=ticker).first()
    account = _account(request)
    if market is None or account is None:
        return HttpResponse(status=204)
    context = {
        "market": market,
        "position": position(account, market.ticker, request.user),
        "balance": cached_balance(account)[0],
    }
    return render(request, "portfolio/_holdings.html", context)


def _parse_date(value: str | None, name: str, errors: list[str]) -> date | None:
    """A YYYY-MM-DD filter date; a bad one is reported in `errors` and the filter left out."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"“{value[:40]}” is not a date (YYYY-MM-DD): the {name} filter is left out.")
        return None


def _filtered_fills(request: TraderRequest, account: KalshiAccount) -> tuple[Any, dict[str, Any]]:
    fills = services.fills_of(account, _owner(request)).order_by("-created_time", "-pk")
    ticker = request.GET.get("ticker", "").strip()
    errors: list[str] = []
    since = _parse_date(request.GET.get("since"), "“from”", errors)
    until = _parse_date(request.GET.get("until"), "“to”", errors)
    side = request.GET.get("side", "")
    if ticker:
        fills = fills.filter(ticker__icontains=ticker)
    tz = timezone.get_current_timezone()
    if since and since > date.min:  # "from" the first representable day: everything (no UTC underflow)
        fills = fills.filter(created_time__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until and until < date.max:  # "to" the last representable day: everything
        fills = fills.filter(
            created_time__lt=datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz)
        )
    if side in ("yes", "no"):
        fills = fills.filter(book_side="bid" if side == "yes" else "ask")
    filters = {
        "scope": "account" if _account_wide(request) else "",
        "ticker": ticker,
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
        "side": side,
        "errors": errors,
    }
    return fills, filters


@require_GET
@login_required
def fill_history(request: TraderRequest) -> HttpResponse:
    account = _account(request)
    if account is None:
        return render(request, "portfolio/fills.html", {"account": None})
    fills, filters = _filtered_fills(request, account)
    page = Paginator(fills, FILLS_PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in filters.items() if v and k != "errors"})
    context = {"account": account, "page": page, "fills": list(page), "filters": filters, "query": query}
    template = "portfolio/fills.html"
    if request.htmx:
        template += "#fill-table"
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
def fills_csv(request: TraderRequest) -> HttpResponse | StreamingHttpResponse:
    account = _account(request)
    if account is None:
        return HttpResponse(
            "No Kalshi account is linked to your login.", status=404, content_type="text/plain"
        )
    fills, filters = _filtered_fills(request, account)
    if filters["errors"]:
        return HttpResponse(" ".join(filters["errors"]), status=400, content_type="text/plain; charset=utf-8")
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield writer.writerow(CSV_COLUMNS)
        for f in fills.iterator(chunk_size=2000):
            # "side" is the leg bought; a bid buys YES, an ask buys NO (= sells YES).
            yield writer.writerow(
                [
                    f.created_time.isoformat(),
                    f.fill_id,
                    f.ticker,
                    "yes" if f.book_side == "bid" else "no",
                    f.book_side,
                    f"{f.count:f}",
                    f"{f.price:f}",
                    f"{f.yes_price:f}",
                    f"{f.fee:f}",
                    "taker" if f.is_taker else "maker",
                    f.exchange_order_id,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="fills-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    return response


@require_GET
@login_required
def settlement_history(request: TraderRequest) -> HttpResponse:
    account = _account(request)
    settlements = Settlement.objects.filter(account=account) if account else Settlement.objects.none()
    ticker = request.GET.get("ticker", "").strip()
    if ticker:
        settlements = settlements.filter(ticker__icontains=ticker)
    page = Paginator(settlements, FILLS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "portfolio/settlements.html",
        {"account": account, "page": page, "settlements": list(page), "ticker": ticker},
    )


@require_GET
@staff_member_required
def staff_exposure(request: TraderRequest) -> HttpResponse:
    return render(
        request,
        "portfolio/staff_exposure.html",
        {"rows": services.exposure_by_account(), "at": services.now(), "stale_after": services.STALE_AFTER},
    )
