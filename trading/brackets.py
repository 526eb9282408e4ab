"""Brackets and OCO, emulated here because Kalshi holds neither: the state machine.

    PENDING ──entry done with fills──▶ ACTIVE ──take-profit filled──────────────▶ DONE
       │                                 │
       └──entry done, nothing filled──▶ CANCELED ◀──trader cancels (PENDING/ACTIVE)
                                         │
                                         └──price reaches the stop──▶ TRIGGERED ──stop order done──▶ DONE
                                                    (or FAILED when the stop order was refused)

When the entry has filled, the take-profit rests on the exchange as a GTC limit (Kalshi takes reduce-only only
with IOC) and the stop is armed here. The stop triggers on the feed's live quote (best bid for a sell exit, best
ask for a buy exit) or on the last trade, and sends a reduce-only IOC order at the stop's limit through the same
path as the ticket (the ticket's checks and risk limits, the halts, the audit, Celery); the take-profit is
canceled at once. Each step is a conditional update on the bracket's status inside one transaction with what it
does, so it happens once however many feed processes or deliveries run it (`Bracket.move`); the exits' client
order ids are fixed when the bracket is made, so an exit placed twice finds the first order.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from markets.models import Market
from trading import lifecycle, services
from trading.brackets_models import Bracket
from trading.forms import OrderTicketForm
from trading.models import Order
from trading.tasks import cancel_order

log = logging.getLogger(__name__)
ACTOR = "brackets"
ONE = Decimal(1)
# The stop's worst price when the trader gives none: it sells down to 1¢ (buys up to 99¢), i.e. at the book.
DEFAULT_SELL_STOP_LIMIT = Decimal("0.01")
DEFAULT_BUY_STOP_LIMIT = Decimal("0.99")
# Statuses of an exit order that end it.
FINAL = tuple(Order.FINAL_STATUSES)


class BracketRefused(Exception):
    """The bracket's prices make no sense for its entry; the message is shown to the trader."""


def default_stop_limit(exit_action: str) -> Decimal:
    return DEFAULT_SELL_STOP_LIMIT if exit_action == "sell" else DEFAULT_BUY_STOP_LIMIT


def check_prices(
    entry_action: str,
    entry_price: Decimal,
    take_profit: Decimal | None,
    stop: Decimal | None,
    stop_limit: Decimal | None,
) -> None:
    """The exits must be on the right side of the entry: a long (buy) takes profit above and stops below."""
    if take_profit is None and stop is None:
        raise BracketRefused("Give a take-profit, a stop, or both.")
    long = entry_action == "buy"
    if take_profit is not None and (take_profit <= entry_price if long else take_profit >= entry_price):
        raise BracketRefused(
            f"The take-profit must be {'above' if long else 'below'} the entry price ({_c(entry_price)})."
        )
    if stop is not None and (stop >= entry_price if long else stop <= entry_price):
        raise BracketRefused(
            f"The stop must be {'below' if long else 'above'} the entry price ({_c(entry_price)})."
        )
    if stop is not None and stop_limit is not None and (stop_limit > stop if long else stop_limit < stop):
        raise BracketRefused(
            f"The stop's limit must be at or {'below' if long else 'above'} the stop ({_c(stop)}): it is the worst "
            "price the stop order accepts."
        )


def _c(price: Decimal) -> str:
    return f"{(price * 100).normalize():f}¢"


def attach(
    user: Any,
    entry: Order,
    *,
    take_profit: Decimal | None,
    stop: Decimal | None,
    stop_limit: Decimal | None = None,
    trigger: str = Bracket.Trigger.QUOTE,
) -> Bracket:
    """Attach exits to the trader's own entry order (placed with the ticket's path just before, or already open)."""
    if entry.user_id != user.pk:
        raise BracketRefused("That order is not yours.")
    if entry.status in FINAL and entry.fill_count == 0:
        raise BracketRefused("That order is over without a fill: there is nothing to protect.")
    check_prices(entry.action, entry.price, take_profit, stop, stop_limit)
    exit_action = "sell" if entry.action == "buy" else "buy"
    with transaction.atomic():
        if Bracket.objects.select_for_update().filter(entry=entry).exists():
            raise BracketRefused("That order has a bracket already.")
        bracket = Bracket.objects.create(
            user=user,
            account_id=entry.account_id,
            ticker=entry.ticker,
            entry=entry,
            outcome=entry.outcome,
            entry_action=entry.action,
            take_profit_price=take_profit,
            stop_price=stop,
            stop_limit_price=stop_limit if stop_limit is not None else default_stop_limit(exit_action),
            trigger=trigger,
        )
        lifecycle.audit(entry, "bracket_attached", user.get_username(), note=describe(bracket))
    notify(bracket)
    return bracket


def describe(bracket: Bracket) -> str:
    parts = []
    if bracket.take_profit_price is not None:
        parts.append(f"take-profit {_c(bracket.take_profit_price)}")
    if bracket.stop_price is not None:
        parts.append(f"stop {_c(bracket.stop_price)} (limit {_c(bracket.stop_limit_price)})")
    return f"bracket {bracket.pk}: " + ", ".join(parts)


def reference_price(bracket: Bracket, quote: dict[str, Any] | None) -> Decimal | None:
    """The price the stop watches, in the bracket's leg: a sell exit watches the best bid (what it would sell
    at), a buy exit the best ask; or the last trade. None when the book has no such price."""
    if not quote:
        return None
    leg = bracket.outcome
    if bracket.trigger == Bracket.Trigger.LAST:
        raw = quote.get("last_price")
        if raw in (None, ""):
            return None
        yes_last = Decimal(str(raw))
        return yes_last if leg == "yes" else ONE - yes_last
    side = "bid" if bracket.exit_action == "sell" else "ask"
    raw = quote.get(f"{leg}_{side}")
    return None if raw in (None, "") else Decimal(str(raw))


def stop_crossed(bracket: Bracket, price: Decimal | None) -> bool:
    if bracket.stop_price is None or price is None:
        return False
    if bracket.exit_action == "sell":
        return price <= bracket.stop_price
    return price >= bracket.stop_price


def advance(bracket: Bracket, quote: dict[str, Any] | None, *, live: bool = True) -> str:
    """One step of the state machine for this bracket with this quote (`live`: the feed is connected and the book
    current; the stop never triggers on stale prices). Returns what it did ("" for nothing)."""
    if bracket.status == Bracket.Status.PENDING:
        return _pending(bracket)
    if bracket.status == Bracket.Status.ACTIVE:
        return _active(bracket, quote, live=live)
    if bracket.status == Bracket.Status.TRIGGERED:
        return _triggered(bracket)
    return ""


def _pending(bracket: Bracket) -> str:
    entry = Order.objects.filter(pk=bracket.entry_id).first() if bracket.entry_id else None
    if entry is None:
        return ""
    if entry.status not in FINAL:
        return ""  # still working (a partial fill waits for the entry to finish)
    if entry.fill_count <= 0:
        if bracket.move(
            (Bracket.Status.PENDING,), status=Bracket.Status.CANCELED, note="The entry ended unfilled."
        ):
            notify(bracket)
            return "canceled"
        return ""
    return activate(bracket, entry.fill_count)


def activate(bracket: Bracket, count: Decimal) -> str:
    """The entry has filled `count`: the take-profit goes to rest and the stop is armed."""
    with transaction.atomic():
        if not bracket.move((Bracket.Status.PENDING,), status=Bracket.Status.ACTIVE, count=count):
            return ""
        if bracket.take_profit_price is not None:
            order, problem = _place_exit(
                bracket, bracket.take_profit_price, count, tif="gtc", reduce_only=False
            )
            if order is not None:
                bracket.move((Bracket.Status.ACTIVE,), take_profit_order=order)
            else:
                note = f"The take-profit could not be placed: {problem}"
                if bracket.stop_price is None:
                    bracket.move((Bracket.Status.ACTIVE,), status=Bracket.Status.FAILED, note=note)
                else:
                    bracket.move((Bracket.Status.ACTIVE,), note=note + " The stop stays armed.")
    notify(bracket, toast=f"Bracket on {bracket.ticker}: exits {bracket.get_status_display()}.")
    return "activated"


def _active(bracket: Bracket, quote: dict[str, Any] | None, *, live: bool) -> str:
    tp = Order.objects.get(pk=bracket.take_profit_order_id) if bracket.take_profit_order_id else None
    if tp is not None and tp.status == Order.Status.EXECUTED:
        if bracket.move(
            (Bracket.Status.ACTIVE,),
            status=Bracket.Status.DONE,
            note="Take-profit filled; the stop is disarmed.",
        ):
            notify(bracket, toast=f"Take-profit filled on {bracket.ticker}: stop disarmed.")
            return "take-profit filled"
        return ""
    if tp is not None and tp.status in FINAL and bracket.stop_price is None:
        # The take-profit alone, and it was canceled (by the trader or a kill switch): nothing is left to run.
        if bracket.move(
            (Bracket.Status.ACTIVE,), status=Bracket.Status.CANCELED, note="The take-profit ended."
        ):
            notify(bracket)
            return "take-profit ended"
        return ""
    if live and stop_crossed(bracket, reference_price(bracket, quote)):
        return fire(bracket, reference_price(bracket, quote), tp)
    return ""


def fire(bracket: Bracket, seen: Decimal | None, tp: Order | None) -> str:
    """The stop triggers: once (the conditional update ACTIVE → TRIGGERED), with its reduce-only order placed and
    the take-profit's cancel requested in the same transaction."""
    with transaction.atomic():
        if not bracket.move(
            (Bracket.Status.ACTIVE,),
            status=Bracket.Status.TRIGGERED,
            triggered_at=timezone.now(),
            trigger_seen=seen,
        ):
            return ""
        count = bracket.count
        if tp is not None:
            tp.refresh_from_db()
            count = max(count - tp.fill_count, Decimal(0))
            if tp.is_open:
                for pending in services.request_cancels(
                    bracket.user, [tp], note=f"stop of bracket {bracket.pk}"
                ):
                    cancel_order.delay_on_commit(pending.pk)
        if count <= 0:
            bracket.move(
                (Bracket.Status.TRIGGERED,), status=Bracket.Status.DONE, note="Nothing left to close."
            )
            notify(bracket)
            return "nothing left"
        assert bracket.stop_price is not None
        order, problem = _place_exit(bracket, bracket.stop_limit_price, count, tif="ioc", reduce_only=True)
        if order is None:
            bracket.move(
                (Bracket.Status.TRIGGERED,),
                status=Bracket.Status.FAILED,
                note=f"The stop triggered at {_c(seen or bracket.stop_price)} but its order was refused: {problem}",
            )
            notify(bracket, toast=f"Stop on {bracket.ticker} triggered but its order was refused: {problem}")
            return "refused"
        bracket.move((Bracket.Status.TRIGGERED,), stop_order=order)
        lifecycle.audit(order, "stop_triggered", ACTOR, note=f"{describe(bracket)}; price seen {seen}")
    notify(bracket, toast=f"Stop triggered on {bracket.ticker} at {_c(seen or bracket.stop_price)}.")
    return "fired"


def _triggered(bracket: Bracket) -> str:
    if bracket.stop_order_id is None:
        return ""
    stop = Order.objects.get(pk=bracket.stop_order_id)
    if stop.status not in FINAL:
        return ""
    note = f"Stop order done: {stop.fill_count.normalize():f} of {stop.count.normalize():f} filled."
    left = stop.count - stop.fill_count
    toast = ""
    if left > 0:
        note += f" {left.normalize():f} still open: the book did not reach the stop's limit."
        toast = f"Stop on {bracket.ticker} closed only {stop.fill_count.normalize():f} of {stop.count.normalize():f}."
    if bracket.move((Bracket.Status.TRIGGERED,), status=Bracket.Status.DONE, note=note):
        notify(bracket, toast=toast)
        return "stop done"
    return ""


def _place_exit(
    bracket: Bracket, price: Decimal, count: Decimal, *, tif: str, reduce_only: bool
) -> tuple[Order | None, str]:
    """An exit through the ticket's own path: its form (grid, market open, reduce-only, the trader's limits) and
    `services.place_order` (halts, audit, Celery after commit). (order, "") or (None, why not)."""
    market = Market.objects.filter(ticker=bracket.ticker).first()
    if market is None:
        return None, "the market is unknown."
    user = bracket.user
    profile = services.trader_profile(user)
    token = bracket.stop_token if reduce_only else bracket.take_profit_token
    form = OrderTicketForm(
        {
            "outcome": bracket.outcome,
            "action": bracket.exit_action,
            "count": f"{count:f}",
            "price_cents": f"{(price * 100).normalize():f}",
            "time_in_force": tif,
            "reduce_only": "on" if reduce_only else "",
            "client_order_id": str(token),
        },
        market=market,
        limits=profile,
        position=lambda: services.position(bracket.account, bracket.ticker, user),
        balance=None,  # an exit closes a position: it needs no new cash
    )
    if not form.is_valid():
        return None, " ".join(str(e) for errors in form.errors.values() for e in errors)
    try:
        return services.place_order(user, form.cleaned_data, bracket.ticker), ""
    except services.AlreadyPlaced as exc:
        return exc.order, ""
    except services.TradingRefused as exc:
        return None, str(exc)


def cancel(user: Any, bracket: Bracket) -> bool:
    """The trader cancels the bracket's exits (not its entry): the stop is disarmed, the take-profit canceled."""
    if bracket.user_id != user.pk:
        return False
    with transaction.atomic():
        if not bracket.move(
            (Bracket.Status.PENDING, Bracket.Status.ACTIVE),
            status=Bracket.Status.CANCELED,
            note=f"Canceled by {user.get_username()}.",
        ):
            return False
        if bracket.take_profit_order_id:
            tp = Order.objects.get(pk=bracket.take_profit_order_id)
            if tp.is_open:
                for pending in services.request_cancels(user, [tp], note=f"bracket {bracket.pk} canceled"):
                    cancel_order.delay_on_commit(pending.pk)
    notify(bracket)
    return True


# A frame that makes the trader's open brackets panels re-render (live.js turns it into kw:brackets-changed).
BRACKETS_CHANGED = '<div id="kw-signal" hx-swap-oob="true" data-event="kw:brackets-changed" hidden></div>'


def notify(bracket: Bracket, toast: str = "") -> None:
    """Tell the trader's pages (after the commit) that the bracket changed, with a toast when there is news."""
    frames = [BRACKETS_CHANGED]
    if toast:
        frames.append(render_to_string("trading/_toast.html", {"message": toast}))
    lifecycle.notify_user(bracket.user_id, frames)


def open_brackets() -> list[Bracket]:
    return list(
        Bracket.objects.filter(status__in=Bracket.OPEN_STATUSES)
        .select_related("user", "account")
        .order_by("pk")
    )
