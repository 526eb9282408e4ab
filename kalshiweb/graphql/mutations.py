"""Mutations: the trader's actions, through the ticket's own path. Each one runs the desk's form validation
(`trading.forms`), its blockers (halts, a view-only login, stale market data: `trading.views.ticket_blocker`), the
trader's risk limits, then `trading.services` (the order row, its audit event, the Celery submission after the
commit). Nothing here talks to the exchange. A placed order is returned at once, `sending`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from django.db import transaction
from django.utils import timezone
from strawberry.types import Info

from kalshiweb.graphql.context import actor
from kalshiweb.graphql.errors import (
    BAD_INPUT,
    CONFLICT,
    NOT_FOUND,
    TRADING_REFUSED,
    ApiError,
    FieldErrors,
)
from kalshiweb.graphql.queries import own_order
from kalshiweb.graphql.types import Action, KillSwitchResult, OrderType, Side, TimeInForce
from trading import services
from trading import views as ticket
from trading.forms import AmendForm, OrderTicketForm
from trading.models import Order
from trading.tasks import cancel_order, cancel_trader_orders

# clientOrderId → the order's client_order_id: a UUID derived from the user and the caller's id, so two users'
# scripts can never collide on one id, and the same id from the same user is the same order.
CLIENT_ORDER_NAMESPACE = uuid.UUID("5b0f2f7e-4c1e-4d55-9a57-6f1c6c0e7a11")

FORM_FIELDS = {
    "outcome": "side",
    "action": "action",
    "count": "quantity",
    "price_cents": "price",
    "time_in_force": "timeInForce",
    "expiration": "expiresAt",
    "post_only": "postOnly",
    "reduce_only": "reduceOnly",
    "client_order_id": "clientOrderId",
}


@strawberry.input
class OrderInput:
    market_id: str = strawberry.field(description="The Kalshi market ticker.")
    side: Side
    quantity: Decimal = strawberry.field(description="Contracts (steps of 0.01).")
    price: Decimal = strawberry.field(description='Limit in dollars in the chosen side\'s leg, e.g. "0.42".')
    action: Action = Action.BUY
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    expires_at: datetime | None = strawberry.field(default=None, description="Required with GTT.")
    client_order_id: str | None = strawberry.field(
        default=None,
        description="Your id for this order (at most 100 characters): the same id twice places once.",
    )


@dataclass
class _Request:
    """What trading.views' ticket helpers read of a request: its user."""

    user: Any


def client_order_uuid(user: Any, client_order_id: str) -> uuid.UUID:
    return uuid.uuid5(CLIENT_ORDER_NAMESPACE, f"{user.pk}:{client_order_id}")


def form_errors(form: Any) -> FieldErrors:
    problems: list[tuple[str | None, str]] = []
    for name, messages in form.errors.items():
        field = FORM_FIELDS.get(name) if name != "__all__" else None
        problems.extend((field, str(m)) for m in messages)
    return FieldErrors(problems)


def cents(price: Decimal) -> str:
    return format((price * 100).normalize(), "f")


def refuse_if_blocked(request: _Request, market: Any, state: Any) -> None:
    kind, reason = ticket.ticket_blocker(request, market, state)  # type: ignore[arg-type]
    if kind:
        raise ApiError(TRADING_REFUSED, reason, retryable=kind == "data")


def check_trader(user: Any) -> None:
    try:
        services.check_can_trade(user)
    except services.TradingRefused as exc:
        raise ApiError(TRADING_REFUSED, str(exc)) from None


def place(user: Any, data: OrderInput) -> Order:
    if data.client_order_id is not None and not 1 <= len(data.client_order_id) <= 100:
        raise ApiError(BAD_INPUT, "clientOrderId must be 1 to 100 characters.", field="clientOrderId")
    token = (
        client_order_uuid(user, data.client_order_id) if data.client_order_id is not None else uuid.uuid4()
    )
    if data.client_order_id is not None:
        existing = Order.objects.filter(client_order_id=token, user=user).first()
        if existing is not None:
            return existing  # the same clientOrderId again: its order, nothing new
    check_trader(user)
    market = ticket.TICKET_MARKETS.filter(ticker=data.market_id).first()
    if market is None:
        raise ApiError(NOT_FOUND, f"No market {data.market_id[:120]!r}.", field="marketId")
    request = _Request(user)
    state = ticket.live_state(request, market)  # type: ignore[arg-type]
    refuse_if_blocked(request, market, state)
    form = OrderTicketForm(
        {
            "outcome": data.side.value,
            "action": data.action.value,
            "count": format(data.quantity, "f"),
            "price_cents": cents(data.price),
            "time_in_force": data.time_in_force.value,
            "expiration": data.expires_at,
            "post_only": data.post_only,
            "reduce_only": data.reduce_only,
            "client_order_id": str(token),
        },
        market=market,
        **ticket._checks(request, market, state),  # type: ignore[arg-type]
    )
    if not form.is_valid():
        raise form_errors(form)
    try:
        return services.place_order(user, form.cleaned_data, market.ticker)
    except services.AlreadyPlaced as exc:
        return exc.order
    except services.TradingRefused as exc:
        raise ApiError(TRADING_REFUSED, str(exc)) from None


def amend(user: Any, id: strawberry.ID, price: Decimal | None, quantity: Decimal | None) -> Order:
    order = own_order(user, id)
    assert order is not None
    if price is None and quantity is None:
        raise ApiError(BAD_INPUT, "Give a new price and/or quantity.", field="price")
    market = ticket.TICKET_MARKETS.filter(ticker=order.ticker).first()
    if market is None:
        raise ApiError(NOT_FOUND, "The order's market is no longer listed.", field="id")
    if not order.amendable:
        raise ApiError(
            CONFLICT, "Only a resting order can be amended (not while it is being sent, canceled or amended)."
        )
    check_trader(user)
    request = _Request(user)
    state = ticket.live_state(request, market)  # type: ignore[arg-type]
    form = AmendForm(
        {
            "count": format(quantity if quantity is not None else order.count, "f"),
            "price_cents": cents(price if price is not None else order.price),
        },
        order=order,
        market=market,
        **ticket._checks(request, market, state),  # type: ignore[arg-type]
    )
    if not form.is_valid():
        raise form_errors(form)
    try:
        done = services.request_amend(user, order, form.cleaned_data["price"], form.cleaned_data["count"])
    except services.TradingRefused as exc:
        raise ApiError(TRADING_REFUSED, str(exc)) from None
    if not done:
        raise ApiError(CONFLICT, "The order changed meanwhile (filled, canceled or already being amended).")
    return order


def cancel_mine(user: Any, orders: list[Order], note: str) -> list[Order]:
    """As the desk's cancel buttons: unsent orders canceled at once, the others queued by their exchange ids."""
    with transaction.atomic():
        pending = services.request_cancels(user, orders, note)
        if len(pending) == 1 and not note:
            cancel_order.delay_on_commit(pending[0].pk)
        elif pending:
            cancel_trader_orders.delay_on_commit([o.pk for o in pending], user.get_username())
    return orders


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Place an order through the desk's ticket checks; returned at once, `sending`."
    )
    def place_order(self, info: Info, input: OrderInput) -> OrderType:
        caller = actor(info)
        caller.require_write()
        return OrderType.of(place(caller.user, input))

    @strawberry.mutation(description="A new limit and/or total quantity for a resting order.")
    def amend_order(
        self,
        info: Info,
        id: strawberry.ID,
        price: Decimal | None = None,
        quantity: Decimal | None = None,
    ) -> OrderType:
        caller = actor(info)
        caller.require_write()
        return OrderType.of(amend(caller.user, id, price, quantity))

    @strawberry.mutation(description="Cancel one of your orders: it comes back `canceling` or `canceled`.")
    def cancel_order(self, info: Info, id: strawberry.ID) -> OrderType:
        caller = actor(info)
        caller.require_write()
        order = own_order(caller.user, id)
        assert order is not None
        if not order.is_open:
            raise ApiError(CONFLICT, f"The order is already {OrderType.of(order).status}.", field="id")
        cancel_mine(caller.user, [order], "")
        order.refresh_from_db()
        return OrderType.of(order)

    @strawberry.mutation(
        description="Cancel all of your open orders (in one market when `marketId` is given)."
    )
    def cancel_all_orders(self, info: Info, market_id: str | None = None) -> list[OrderType]:
        caller = actor(info)
        caller.require_write()
        orders = Order.objects.for_user(caller.user).open()
        if market_id is not None:
            orders = orders.filter(ticker=market_id)
        mine = cancel_mine(caller.user, list(orders.order_by("pk")), "cancel all (API)")
        for order in mine:
            order.refresh_from_db()
        return [OrderType.of(o) for o in mine]

    @strawberry.mutation(
        description="Cancel all of your open orders and halt your trading (an admin lifts it)."
    )
    def kill_switch(self, info: Info, confirm: bool) -> KillSwitchResult:
        caller = actor(info)
        caller.require_write()
        if not confirm:
            raise ApiError(BAD_INPUT, "Pass confirm: true to cancel everything and halt.", field="confirm")
        user = caller.user
        profile = services.trader_profile(user)
        if profile is None or profile.account is None:
            raise ApiError(TRADING_REFUSED, "Your login has no trading account.")
        profile.halted = True
        profile.halted_reason = f"kill switch (API) at {timezone.localtime():%H:%M:%S}"
        profile.save(update_fields=["halted", "halted_reason"])
        mine = cancel_mine(user, list(Order.objects.for_user(user).open().order_by("pk")), "kill switch")
        for order in mine:
            order.refresh_from_db()
        return KillSwitchResult(
            halted=True, reason=profile.halted_reason, orders=[OrderType.of(o) for o in mine]
        )
