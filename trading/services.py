"""Placing, amending and cancelling orders: the trader's actions, which span our models and the exchange.

Each one checks the trader may act, records the request and queues the Celery task that talks to the exchange
(`trading.tasks`) after the commit; the order's later changes of state are in `trading.lifecycle`.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Sum, When

from kalshiweb import logs
from kalshiweb.kalshi.rest import book_order
from trading import lifecycle
from trading.lifecycle import audit, order_request
from trading.models import Fill, KalshiAccount, Order, OrderGroup, TraderProfile, TradingHalt
from trading.tasks import amend_order, submit_order

log = logging.getLogger(__name__)


class TradingRefused(Exception):
    """The order may not be placed (halt, no account, stale data…); the message is shown to the trader."""


class AlreadyPlaced(Exception):
    """This ticket (its client_order_id) has placed its order already: `order` is that order."""

    def __init__(self, order: Order) -> None:
        super().__init__(f"order {order.pk} was placed with this ticket already")
        self.order = order


_UNSET = object()


def trader_profile(user: Any) -> TraderProfile | None:
    """The user's trader profile (with its account), read once per request: it is memoised on the user object."""
    cached = getattr(user, "_kw_trader_profile", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    relation = TraderProfile.user.field.remote_field
    if getattr(user, "pk", None) is not None and relation.is_cached(user):
        # Loaded with the user (trading.auth.TraderBackend): no query. None when the user has no profile.
        profile = cast("TraderProfile | None", relation.get_cached_value(user))
    else:
        profile = TraderProfile.objects.select_related("account").filter(user=user).first()
    try:
        user._kw_trader_profile = profile
    except AttributeError:
        pass
    return profile


def current_halt(user: Any) -> TradingHalt:
    """The global halt as this request sees it: read once per request (memoised on the user object, like
    `trader_profile`), so the ticket check and `place_order` do not each query it."""
    cached = getattr(user, "_kw_halt", None)
    if cached is not None:
        return cached
    if hasattr(user, "kw_halted"):
        # Read with the user (trading.auth.TraderBackend); no row yet means no halt was ever set.
        halt = TradingHalt(pk=1, halted=bool(user.kw_halted), reason=user.kw_halt_reason or "")
    else:
        halt = TradingHalt.current()
    try:
        user._kw_halt = halt
    except AttributeError:
        pass
    return halt


def group_tripped(user: Any, profile: TraderProfile) -> bool:
    """Whether the trader's order group is triggered (trading.order_groups): read with the user when it was
    loaded by trading.auth.TraderBackend (no query), else asked once."""
    tripped = getattr(user, "kw_group_tripped", None)
    if tripped is None:
        tripped = OrderGroup.objects.filter(profile=profile, state=OrderGroup.State.TRIGGERED).exists()
    return bool(tripped)


def check_can_trade(user: Any) -> TraderProfile:
    profile = trader_profile(user)
    if profile is None or profile.account is None or not profile.can_trade:
        raise TradingRefused("Your login is view-only: ask an admin to link it to a Kalshi account.")
    halt = current_halt(user)
    if halt.halted:
        raise TradingRefused(f"Trading is halted for everyone: {halt.reason or 'by staff'}.")
    if profile.halted:
        raise TradingRefused(
            f"Your trading is halted: {profile.halted_reason or 'kill switch'}. An admin can lift it."
        )
    if group_tripped(user, profile):
        raise TradingRefused(
            "Your order group tripped: more contracts filled within 15 s than your limit allows, so the exchange "
            "canceled your orders. Reset it on the Orders page to trade again."
        )
    return profile


def position(account: KalshiAccount, ticker: str, user: Any = None) -> Decimal:
    """Net YES contracts (negative: NO) held in a market, from the stored fills: the trader's own fills when
    `user` is given (what their ticket shows and checks: two traders may share one account), else the account's."""
    fills = Fill.objects.filter(account=account, ticker=ticker)
    if user is not None:
        fills = fills.filter(user_id=user.pk)
    total = fills.aggregate(net=_net_yes())["net"]
    return total or Decimal("0")


def _net_yes() -> Sum:
    """Net YES contracts of a set of fills: a bid (a YES buy) adds its count, an ask (a NO buy) takes it off."""
    return Sum(Case(When(book_side="bid", then=F("count")), default=-F("count")))


def positions(user: Any, tickers: list[str]) -> dict[str, Decimal]:
    """The trader's own net YES contracts (negative: NO) per market among `tickers`, markets held only."""
    profile = trader_profile(user) if getattr(user, "is_authenticated", False) else None
    if profile is None or profile.account is None:
        return {}
    rows = (
        Fill.objects.filter(account=profile.account, user_id=user.pk, ticker__in=tickers)
        .values("ticker")
        .annotate(net=_net_yes())
    )
    return {r["ticker"]: r["net"] for r in rows if r["net"]}


def place_order(user: Any, cleaned: dict[str, Any], market_ticker: str) -> Order:
    """Create the order row (status NEW, shown at once as "sending…") and queue its submission after commit.

    `cleaned["client_order_id"]`, the ticket's token, is the order's client_order_id: when an order already has
    it (the same ticket posted twice), nothing is created and `AlreadyPlaced` carries that order."""
    profile = check_can_trade(user)
    account = profile.account
    assert account is not None  # check_can_trade refuses a profile without an account
    token = cleaned.get("client_order_id")
    try:
        return _create_order(user, account, cleaned, market_ticker, token)
    except IntegrityError:
        # The unique client_order_id: another request with this ticket (a double-click) placed it first. Read
        # after the failed insert, so the first request's row is committed and visible.
        existing = Order.objects.filter(client_order_id=token).first() if token else None
        if existing is None:
            raise
        if existing.user_id != user.pk:
            raise TradingRefused("This ticket has expired: reload the page to place an order.") from None
        raise AlreadyPlaced(existing) from None


def _create_order(
    user: Any,
    account: KalshiAccount,
    cleaned: dict[str, Any],
    market_ticker: str,
    token: Any,
) -> Order:

    outcome, action, price = cleaned["outcome"], cleaned["action"], cleaned["price"]
    book_side, yes_price = book_order(outcome, action, price)
    with transaction.atomic():
        order = Order.objects.create(
            **({"client_order_id": token} if token else {}),
            user=user,
            account=account,
            ticker=market_ticker,
            outcome=outcome,
            action=action,
            price=price,
            book_side=book_side,
            yes_price=yes_price,
            count=cleaned["count"],
            remaining_count=cleaned["count"],
            time_in_force=cleaned["time_in_force"],
            expiration_time=cleaned.get("expiration"),
            post_only=cleaned.get("post_only", False),
            reduce_only=cleaned.get("reduce_only", False),
            request_id=logs.current(),
        )
        audit(order, "created", user.get_username(), sent=order_request(order).to_json())
        submit_order.delay_on_commit(order.pk)
    return order


def request_cancels(user: Any, orders: list[Order], note: str = "") -> list[Order]:
    """Cancel these orders of the trader's (open ones; the caller scopes them to the trader). An order never sent
    is canceled here and now, so a cancel works while the order worker is down: a conditional update on NEW that
    races the worker's claim, one of them wins. The others are marked "canceling…" and those newly marked are
    returned for the exchange to cancel (by the caller's task)."""
    actor = user.get_username()
    pending: list[Order] = []
    for order in orders:
        unsent_note = f"canceled before it was sent{'; ' + note if note else ''}"
        if order.status == Order.Status.NEW and lifecycle.cancel_unsent(order, actor, unsent_note):
            continue
        if order.is_open and lifecycle.request_cancel(order, actor, note):
            pending.append(order)  # one already canceling has its cancel in flight
    return pending


def request_amend(user: Any, order: Order, price: Decimal, count: Decimal) -> bool:
    """Record the amend (the row shows "amending…" at once) and queue it after commit. False: the order can no
    longer be amended (it filled, was canceled, or another amend is in flight)."""
    check_can_trade(user)
    with transaction.atomic():
        if not lifecycle.request_amend(order, price, count, user.get_username()):
            return False
        amend_order.delay_on_commit(order.pk)
    return True
