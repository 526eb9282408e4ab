from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kalshiweb.http import TraderRequest
from markets import fees, live
from markets.models import Market
from trading import hotkeys, lifecycle, order_groups, queue_positions, services
from trading.balance import balance_key, get_balance, parse_cached
from trading.flatten import NothingToFlatten, flatten_order
from trading.forms import AmendForm, OrderTicketForm, price_steps_cents
from trading.models import Fill, KalshiAccount, Order, TradingHalt
from trading.preview import preview_order
from trading.tasks import cancel_all_for_account, cancel_order, cancel_trader_orders

STALE_AFTER = settings.KALSHIWEB_STALE_AFTER_SECONDS
# What the ticket, its form and its checks read of a market: loading all 30 columns (rules text, quotes, JSON)
# cost more than the query itself on every keystroke preview and every placement. Any other field still
# loads on access.
TICKET_MARKETS = Market.objects.only("ticker", "status", "close_time", "price_ranges", "yes_ask", "yes_bid")


@dataclass(frozen=True)
class LiveState:
    """What the ticket reads from Redis for one market and trader, read in one round trip."""

    book: dict[str, Any] | None
    health: dict[str, Any] | None
    quote: dict[str, Any] | None
    cached_balance: tuple[Decimal | None, float | None]


def live_state(request: TraderRequest, market: Market) -> LiveState:
    profile = services.trader_profile(request.user)
    keys = [live.book_key(market.ticker), live.HEALTH_KEY, live.quote_key(market.ticker)]
    if profile is not None and profile.account is not None:
        keys.append(balance_key(profile.account))
    book, health, quote, *balance = live.get_json_many(keys)
    return LiveState(book, health, quote, parse_cached(balance[0] if balance else None))


def ticket_blocker(request: TraderRequest, market: Market, state: LiveState) -> tuple[str, str]:
    """(kind, reason) the ticket is disabled right now; kind "" when trading is allowed, "data" when it
    waits for current market data (the page asks again once its book is live), "account" otherwise."""
    try:
        services.check_can_trade(request.user)
    except services.TradingRefused as exc:
        return "account", str(exc)
    if not market.is_open:
        return "account", "This market is not open for trading."
    book = state.book
    if book is None:
        return "data", "Waiting for the order book: the exchange feed has not delivered this market yet."
    if book.get("stale"):
        return (
            "data",
            "The order book is stale (resyncing with the exchange): trading is paused until it is current.",
        )
    health = state.health
    if not health or not health.get("connected"):
        return "data", "The exchange feed is down: trading is paused until market data is live again."
    if time.time() - float(book.get("ts") or 0) > STALE_AFTER:
        return "data", f"Market data is older than {STALE_AFTER} s: trading is paused until it is current."
    return "", ""


def ticket_context(
    request: TraderRequest,
    market: Market,
    form: OrderTicketForm | None = None,
    *,
    read: OrderTicketForm | None = None,
    blocked: tuple[str, str] | None = None,
    state: LiveState | None = None,
    kept: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ticket's context. `read`: a form of this request that already read the position and balance (the
    bound form, or after a placement the form that placed it); `blocked`: this request's `ticket_blocker`
    answer; `state`: its Redis reads (read here when not given). None of them is read a second time then."""
    state = state or live_state(request, market)
    profile = services.trader_profile(request.user)
    account = profile.account if profile else None
    read = read or form
    if read is not None:
        position, balance = read.position, read.balance
    else:
        position = services.position(account, market.ticker, request.user) if account else Decimal(0)
        balance = get_balance(account, cached=state.cached_balance) if account else None
    if form is None:
        form = OrderTicketForm(market=market, initial=_fresh_ticket(market, state.quote, kept))
    blocker_kind, blocker = blocked if blocked is not None else ticket_blocker(request, market, state)
    return {
        "market": market,
        "form": form,
        "blocker": blocker,
        "blocker_kind": blocker_kind,
        "position": position,
        "balance": balance,
        "account": account,
        "size_presets": SIZE_PRESETS,
        "tick_cents": _tick_cents(market),
        **extra,
    }


# The Open view also carries the orders that finished this recently, as hidden rows (CSS hides a finished row
# there): a panel re-rendered just after a push finished an order still holds its row, so the order's last
# state never vanishes from the page between a push and a re-render.
RECENTLY_FINISHED = timedelta(minutes=10)


def my_orders(user: Any, ticker: str | None, show: str = "open") -> list[Order]:
    """The trader's orders for a panel: the open ones (all of them, with the recently finished), or the latest 50
    of any state."""
    orders = Order.objects.for_user(user)
    if ticker:
        orders = orders.filter(ticker=ticker)
    if show == "open":
        recent = timezone.now() - RECENTLY_FINISHED
        return list(orders.filter(Q(status__in=Order.OPEN_STATUSES) | Q(updated_at__gte=recent))[:500])
    return list(orders[:50])


def market_page_panel(request: TraderRequest, market: Market) -> dict[str, Any]:
    """The market page's trading panel (registered in TradingConfig.ready()): the ticket and the trader's own
    orders and fills in this market."""
    desk = hotkeys.layout(services.trader_profile(request.user))
    return {
        "ticket": ticket_context(request, market),
        "my_orders": my_orders(request.user, market.ticker, desk["orders_show"]),
        "desk_layout": desk,
        "my_fills": Fill.objects.filter(user=request.user, ticker=market.ticker)[:50],
        # for the ladder (issue #15): {(book side, YES price): contracts ahead of the trader's order there}
        "queue_by_level": queue_positions.by_level(request.user, market.ticker),
    }


SIZE_PRESETS = (1, 5, 10, 25, 100)
# What a new ticket keeps of the one just placed: the trader's choices, not the token (a new order needs a new
# one) nor the expiry (a time that has usually passed by the next order).
KEPT_FIELDS = ("outcome", "action", "count", "price_cents", "time_in_force", "post_only", "reduce_only")


def _fresh_ticket(
    market: Market, quote: dict[str, Any] | None, kept: dict[str, Any] | None
) -> dict[str, Any]:
    """A new ticket's initial values: the last placed ticket's choices when there is one; else one contract,
    buying YES at the best bid (it joins the bid and rests: a default at the ask would cross the spread for a
    trader who only changes the size)."""
    if kept:
        return {name: kept[name] for name in KEPT_FIELDS if name in kept}
    return {"count": 1, "price_cents": _default_price(market, quote)}


def _default_price(market: Market, quote: dict[str, Any] | None) -> Any:
    bid = (quote or {}).get("yes_bid") or market.yes_bid
    return (Decimal(str(bid)) * 100).normalize() if bid else None


def _tick_cents(market: Market) -> str:
    """The finest price step of the market in cents (the ticket's ▲/▼ and +/- keys move by it)."""
    return f"{price_steps_cents(market)[0].normalize():f}"


def _checks(request: TraderRequest, market: Market, state: LiveState) -> dict[str, Any]:
    """What the ticket's checks read for this trader and market: limits, position (read on first use), balance
    (the cached one in `state`, fetched when stale)."""
    profile = services.trader_profile(request.user)
    account = profile.account if profile else None
    return {
        "limits": profile,
        "position": (lambda: services.position(account, market.ticker, request.user))
        if account
        else Decimal(0),
        "balance": get_balance(account, cached=state.cached_balance) if account else None,
    }


def _form(request: TraderRequest, market: Market, state: LiveState) -> OrderTicketForm:
    return OrderTicketForm(request.POST, market=market, **_checks(request, market, state))


def _back(request: TraderRequest) -> HttpResponse:
    """Where a plain (non-htmx) form post returns: its `next` when that is a path on this site."""
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("trading:orders")
    return redirect(target)


@require_GET
@login_required
def ticket(request: TraderRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(TICKET_MARKETS, ticker=ticker)
    return render(request, "trading/_ticket.html#ticket", ticket_context(request, market))


@require_POST
@login_required
def preview(request: TraderRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(TICKET_MARKETS, ticker=ticker)
    state = live_state(request, market)
    form = _form(request, market, state)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        result = preview_order(
            outcome=data["outcome"],
            action=data["action"],
            price=data["price"],
            count=data["count"],
            book=state.book,
            balance=form.balance,
            position=form.position,
            schedule=fees.schedule_for(market),  # the market's fee schedule now (issue #15 item 4)
        )
    return render(
        request, "trading/_ticket.html#preview", {"form": form, "preview": result, "market": market}
    )


@require_POST
@login_required
def place(request: TraderRequest, ticker: str) -> HttpResponse:
    market = get_object_or_404(TICKET_MARKETS, ticker=ticker)
    # Everything this request needs from Redis (book, feed health, quote, cached balance) in one round trip.
    state = live_state(request, market)
    form = _form(request, market, state)
    blocked = ticket_blocker(request, market, state)
    blocker = blocked[1]
    if blocker:
        # The ticket shows the blocker once, above the form: the form does not repeat it (a closed market is
        # also the form's own error).
        form.is_valid()
        errors = form.errors.get(NON_FIELD_ERRORS)
        if errors is not None:
            errors[:] = [e for e in errors if e != blocker]
            if not errors:
                del form.errors[NON_FIELD_ERRORS]
    if not blocker and form.is_valid():
        replayed = False
        try:
            order = services.place_order(request.user, form.cleaned_data, ticker)
        except services.AlreadyPlaced as exc:
            order, replayed = exc.order, True  # the same ticket again: its order, nothing new
        except services.TradingRefused as exc:
            form.add_error(None, str(exc))
        if not form.errors:
            if not request.htmx:
                return redirect("markets:detail", ticker=ticker)
            # A fresh ticket (with a new token), with the position and balance this request read (the new order
            # has not traded yet; its fills arrive over the socket) and the blocker it checked, and the order's
            # row: one render (this runs while the worker signs the order, on the same cores). A replayed ticket's
            # row replaces the row its first request added rather than adding it twice.
            context = ticket_context(
                request,
                market,
                read=form,
                blocked=blocked,
                state=state,
                kept=form.cleaned_data,
                placed=order,
                replayed=replayed,
            )
            return render(request, "trading/_ticket.html#placed", context)
    status = 200 if request.htmx else 400
    context = ticket_context(request, market, form=form, blocked=blocked, state=state)
    return render(request, "trading/_ticket.html#ticket", context, status=status)


def _own_order(request: TraderRequest, order_id: int) -> Order:
    # Scoped to the trader: another trader's order id is a 404, never a 403 that confirms it exists.
    return get_object_or_404(Order, pk=order_id, user=request.user)


@require_GET
@login_required
def order_row(request: TraderRequest, order_id: int) -> HttpResponse:
    """One order's row from the database. A row still being sent or reconciled re-reads itself every 2 s, so a
    push that raced ahead of the POST's own response can never leave it showing a stale state; a row not sent
    yet says so once it is slow, and shows it expired once it is too old to send."""
    order = _own_order(request, order_id)
    if order.status == Order.Status.NEW and order.attempts == 0 and order.too_old_to_send:
        # Never tried and now too old to send: expired here, so the trader sees it while the worker is down (the
        # same conditional update as the worker's claim: if the worker claimed it first, this changes nothing).
        lifecycle.expire_unsent(order, "page")
    return render(request, "trading/_order_row.html", {"order": order})


@require_POST
@login_required
def cancel(request: TraderRequest, order_id: int) -> HttpResponse:
    order = _own_order(request, order_id)
    for pending in services.request_cancels(request.user, [order]):
        cancel_order.delay_on_commit(pending.pk)
    if not request.htmx:
        return _back(request)
    return render(request, "trading/_order_row.html", {"order": order})


@require_http_methods(["GET", "POST"])
@login_required
def amend(request: TraderRequest, order_id: int) -> HttpResponse:
    """GET: the order's row as an amend form (new limit and/or total size). POST: validate as the ticket does,
    record the amend and queue it; the row then shows "amending…" until the exchange has it."""
    order = _own_order(request, order_id)
    market = get_object_or_404(TICKET_MARKETS, ticker=order.ticker)
    problem = ""
    if not order.amendable:
        problem = "Only a resting order can be amended (not while it is being canceled or amended)."
    else:
        try:
            services.check_can_trade(request.user)
        except services.TradingRefused as exc:
            problem = str(exc)
    if request.method == "GET" and not problem:
        form = AmendForm(order=order, market=market)
        return render(request, "trading/_amend_row.html", {"order": order, "form": form})
    if request.method == "GET":
        return render(request, "trading/_order_row.html", {"order": order, "row_error": problem})
    form = AmendForm(
        request.POST, order=order, market=market, **_checks(request, market, live_state(request, market))
    )
    if problem:
        form.is_valid()
        form.add_error(None, problem)
    elif form.is_valid():
        try:
            done = services.request_amend(
                request.user, order, form.cleaned_data["price"], form.cleaned_data["count"]
            )
        except services.TradingRefused as exc:
            form.add_error(None, str(exc))
        else:
            if done:
                if not request.htmx:
                    return _back(request)
                return render(request, "trading/_order_row.html", {"order": order})
            form.add_error(None, "The order changed meanwhile (filled, canceled or already being amended).")
    if not request.htmx:
        return render(request, "trading/_amend_row.html", {"order": order, "form": form}, status=400)
    return render(request, "trading/_amend_row.html", {"order": order, "form": form})


@require_POST
@login_required
def cancel_market(request: TraderRequest, ticker: str) -> HttpResponse:
    """Cancel all of my open orders in this market (only mine: never another trader's on the same account)."""
    _cancel_mine(
        request, Order.objects.for_user(request.user).open().filter(ticker=ticker), "cancel all in market"
    )
    if not request.htmx:
        return redirect("markets:detail", ticker=ticker)
    return _orders_panel(request, ticker)


@require_POST
@login_required
def flatten(request: TraderRequest, ticker: str) -> HttpResponse:
    """Close the trader's position in this market: one reduce-only IOC at the best price (trading.flatten),
    through the ticket's own checks (halts, live data) and placement path (audit, Celery submission)."""
    market = get_object_or_404(TICKET_MARKETS, ticker=ticker)
    state = live_state(request, market)
    context: dict[str, Any] = {"market": market}
    _kind, blocker = ticket_blocker(request, market, state)
    profile = services.trader_profile(request.user)
    account = profile.account if profile else None
    try:
        if blocker:
            raise NothingToFlatten(blocker)
        if account is None:
            raise NothingToFlatten("Your login has no trading account.")
        data = flatten_order(services.position(account, ticker, request.user), state.book)
        order = services.place_order(request.user, data, ticker)
    except (NothingToFlatten, services.TradingRefused) as exc:
        context.update(flatten_message=str(exc), flatten_error=True)
    else:
        context.update(
            flattened=order,
            flatten_message=f"Flatten sent: sell {order.count.normalize():f} {order.outcome.upper()} "
            f"at {(order.price * 100).normalize():f}¢ or better, reduce-only, immediate-or-cancel.",
        )
    if request.POST.get("reply") == "status":  # a portfolio row's Close: the outcome in place of its button
        return render(request, "trading/_close_status.html", context)
    if not request.htmx:
        return redirect("markets:detail", ticker=ticker)
    return render(request, "trading/_desk_actions.html", context)


def _cancel_mine(request: TraderRequest, orders: Any, note: str) -> None:
    """Cancel these orders of the requesting trader: the unsent ones at once, the others by their exchange ids."""
    pending = services.request_cancels(request.user, list(orders.order_by("pk")), note)
    if pending:
        cancel_trader_orders.delay_on_commit([o.pk for o in pending], request.user.get_username())


@require_GET
@login_required
def orders_panel(request: TraderRequest, ticker: str | None = None) -> HttpResponse:
    return _orders_panel(request, ticker)


def _orders_panel(request: TraderRequest, ticker: str | None) -> HttpResponse:
    show = "all" if request.GET.get("show") == "all" else "open"
    if ticker and "show" in request.GET:  # the market page's filter, kept for the trader's next visit
        hotkeys.remember_layout(services.trader_profile(request.user), orders_show=show)
    orders = my_orders(request.user, ticker, show)
    context = {"orders": orders, "ticker": ticker, "show": show}
    return render(request, "trading/_orders_panel.html", context)


@require_GET
@login_required
def fills_panel(request: TraderRequest, ticker: str | None = None) -> HttpResponse:
    fills = Fill.objects.filter(user=request.user)
    if ticker:
        fills = fills.filter(ticker=ticker)
    return render(request, "trading/_fills_panel.html", {"fills": fills[:50], "ticker": ticker})


@require_GET
@login_required
def orders(request: TraderRequest) -> HttpResponse:
    return render(request, "trading/orders.html", _orders_page(request))


def _orders_page(request: TraderRequest) -> dict[str, Any]:
    return {
        "orders": my_orders(request.user, None, "all"),
        "open_count": Order.objects.for_user(request.user).open().count(),
        "show": "all",  # the Orders page is the blotter: every state, with the Open filter a click away
        "fills": Fill.objects.filter(user=request.user)[:100],
        "profile": services.trader_profile(request.user),
        "halt": TradingHalt.current(),
        **order_groups.panel_context(request.user),
        # a socket (no market rows) so the trader's updates (the order group's state) arrive live
        "live_tickers": [],
        "live_view": "orders",
    }


@require_POST
@login_required
def kill_switch(request: TraderRequest) -> HttpResponse:
    """Cancel everything and halt my trading."""
    profile = services.trader_profile(request.user)
    if profile is None or profile.account is None:
        raise Http404("no trading account")
    if request.POST.get("confirm") != "yes":
        context = _orders_page(request) | {"kill_error": "Tick the confirmation to cancel everything."}
        return render(request, "trading/orders.html", context, status=400)
    if not profile.halted:  # already halted (by an admin, or earlier): the reason given then stays
        profile.halted = True
        profile.halted_reason = f"kill switch at {timezone.localtime():%H:%M:%S}"
        profile.save(update_fields=["halted", "halted_reason"])
    # Only this trader's orders: the account's cancel-all would cancel every trader's on a shared account.
    _cancel_mine(request, Order.objects.for_user(request.user).open(), "kill switch")
    # And the trader's order group on the exchange: it holds there even if our workers are down.
    order_groups.request_trigger(request.user)
    return redirect("trading:orders")


@require_POST
@staff_member_required
def halt_everyone(request: TraderRequest) -> HttpResponse:
    halt = TradingHalt.current()
    halt.halted = request.POST.get("halted") == "on"
    halt.reason = request.POST.get("reason", "")[:300]
    halt.set_by = request.user
    halt.set_at = timezone.now()
    halt.save()
    if halt.halted:
        for account_id in KalshiAccount.objects.values_list("pk", flat=True):
            cancel_all_for_account.delay_on_commit(account_id, request.user.get_username())
        Order.objects.filter(status=Order.Status.NEW).update(cancel_requested=True)
    return redirect("trading:orders")


@require_POST
@login_required
def desk_layout(request: TraderRequest) -> HttpResponse:
    """Keep how the trader left a part of the desk (desk.js posts it): rules_open=1|0, ladder_view=yes|no,
    book_w / trade_w (column widths in px; out of bounds: back to the default)."""
    profile = services.trader_profile(request.user)
    if "rules_open" in request.POST:
        hotkeys.remember_layout(profile, rules_open=request.POST["rules_open"] == "1")
    if request.POST.get("ladder_view") in ("yes", "no"):
        hotkeys.remember_layout(profile, ladder_view=request.POST["ladder_view"])
    widths = {k: request.POST[k] for k in ("book_w", "trade_w") if k in request.POST}
    if widths:
        hotkeys.remember_layout(profile, **widths)
    return HttpResponse(status=204)


@require_POST
@login_required
def desk_settings(request: TraderRequest) -> HttpResponse:
    """Save the trader's keyboard shortcuts and one-click setting (the "Keyboard shortcuts" overlay's form)."""
    profile = services.trader_profile(request.user)
    if profile is None:
        context = hotkeys.overlay_context(None)
        context["kb_error"] = "A login without a trading account uses the default keys."
        status = 400
    else:
        new, errors = hotkeys.clean(request.POST)
        if errors:
            context = hotkeys.overlay_context(profile, errors, posted=request.POST)
            context["kb_error"] = "Nothing saved: fix the keys marked below."
            status = 400 if not request.htmx else 200
        else:
            profile.desk_settings = {**hotkeys.stored(profile), **new}  # the layout stays
            profile.save(update_fields=["desk_settings"])
            context = {**hotkeys.overlay_context(profile), "kb_saved": True}
            status = 200
    if not request.htmx:
        if status == 200:
            return redirect(request.META.get("HTTP_REFERER") or "markets:list")
        return HttpResponse("\n".join(e for e in [context.get("kb_error", "")] if e), status=status)
    return render(request, "trading/_kb_help.html#body", context, status=status)
