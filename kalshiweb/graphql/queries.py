"""Queries: the trader's portfolio, orders and fills, and the markets. Each reads what the desk's pages read."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry
from django.db.models import Q
from strawberry.types import Info

from kalshiweb.graphql.context import actor, page
from kalshiweb.graphql.errors import BAD_INPUT, ApiError
from kalshiweb.graphql.types import (
    STATUS_WORDS,
    FillType,
    MarketType,
    OrderType,
    Portfolio,
    Position,
    Side,
    status_filter,
)
from markets.models import Market
from portfolio import services as portfolio_services
from portfolio.tasks import request_refresh
from trading.models import Fill, Order
from trading.services import trader_profile

ONE = Decimal(1)


def portfolio_of(user: object) -> Portfolio | None:
    profile = trader_profile(user)
    account = profile.account if profile else None
    if account is None:
        return None
    view = portfolio_services.build_view(account, user)
    if view.stale and view.refreshable:
        # As the portfolio page does: never wait for Kalshi, answer from the snapshot and let a worker refresh it.
        view.refreshing = request_refresh(account.pk) or view.refreshing
    positions = []
    for row in view.rows:
        held = row.pnl
        mark = row.mark.price
        side = Side.YES if held.position > 0 else Side.NO if held.position < 0 else None
        current = None if mark is None else (mark if side != Side.NO else ONE - mark)
        positions.append(
            Position(
                market_id=row.ticker,
                market_title=row.title,
                side=side,
                quantity=held.contracts,
                entry_price=held.average_cost,
                current_price=current,
                unrealized_pnl=row.unrealized,
                realized_pnl=held.realized,
                fees=held.fees,
            )
        )
    return Portfolio(
        total_value=view.portfolio_value,
        cash=view.balance,
        positions=positions,
        realized_pnl=view.realized,
        unrealized_pnl=view.unrealized,
        is_stale=view.stale,
        refreshing=view.refreshing,
        last_updated=view.balance_as_of,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="Your portfolio from the stored snapshot; null for a login with no account."
    )
    def portfolio(self, info: Info) -> Portfolio | None:
        return portfolio_of(actor(info).user)

    @strawberry.field(description="Your orders, newest first. `status`: a desk word, or `open`.")
    def orders(
        self,
        info: Info,
        status: str | None = None,
        market_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[OrderType]:
        window = page(limit, offset)
        orders = Order.objects.for_user(actor(info).user)
        if status is not None:
            if status not in (*STATUS_WORDS, "open"):
                raise ApiError(
                    BAD_INPUT, f"status must be one of: {', '.join(STATUS_WORDS)}, open.", field="status"
                )
            orders = orders.filter(**status_filter(status))
        if market_id is not None:
            orders = orders.filter(ticker=market_id)
        return [OrderType.of(o) for o in orders.order_by("-created_at", "-pk")[window]]

    @strawberry.field(description="One of your orders; null when you have none with this id.")
    def order(self, info: Info, id: strawberry.ID) -> OrderType | None:
        found = own_order(actor(info).user, id, missing_ok=True)
        return OrderType.of(found) if found else None

    @strawberry.field(description="Your fills, newest first.")
    def fills(
        self, info: Info, market_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[FillType]:
        window = page(limit, offset)
        fills = Fill.objects.filter(user=actor(info).user)
        if market_id is not None:
            fills = fills.filter(ticker=market_id)
        return [FillType.of(f) for f in fills.order_by("-created_time", "-pk")[window]]

    @strawberry.field(description="Markets by volume; `search` matches the ticker or title.")
    def markets(
        self,
        info: Info,
        search: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[MarketType]:
        actor(info)
        window = page(limit, offset)
        markets = Market.objects.all()
        if search:
            term = search.strip()[:100]
            markets = markets.filter(Q(ticker__icontains=term) | Q(title__icontains=term))
        if status:
            markets = markets.filter(status=status)
        return [MarketType.of(m) for m in markets.order_by("-volume", "ticker")[window]]

    @strawberry.field(description="One market by its ticker, with its quote and book; null when unknown.")
    def market(self, info: Info, id: str) -> MarketType | None:
        actor(info)
        found = Market.objects.filter(ticker=id).first()
        return MarketType.of(found) if found else None


def own_order(user: Any, id: object, *, missing_ok: bool = False) -> Order | None:
    """The caller's order with this id. Another trader's id is "not found", exactly like an id that does not
    exist (never a refusal that confirms it exists)."""
    from kalshiweb.graphql.errors import NOT_FOUND

    try:
        pk = int(str(id))
    except ValueError:
        pk = None
    found = Order.objects.filter(pk=pk, user=user).first() if pk is not None and 0 < pk < 2**62 else None
    if found is None and not missing_ok:
        raise ApiError(NOT_FOUND, "No such order.", field="id")
    return found
