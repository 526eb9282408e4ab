"""Helpers shared by the order-path tests and the order benchmark: fresh simulator markets, order rows,
a counterparty that trades against our orders, and the exchange's own view of fills and orders."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal as D
from typing import Any

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi import models as k
from kalshiweb.simulator import wire
from tests.simulator.simhelp import EVENT, Trader, add_markets
from trading.models import KalshiAccount, Order

_markets = itertools.count(1)


def fresh_market(sim: Any) -> str:
    """A new open market with an empty book, so our bids rest and only our counterparty trades with them."""
    ticker = f"{EVENT}-OK{next(_markets)}{uuid.uuid4().hex[:6].upper()}"
    add_markets(sim, [ticker])
    return ticker


def funded_account(sim: Any, name: str, balance: D = D("100000")) -> tuple[KalshiAccount, str]:
    """A KalshiAccount row with a stored key for a new simulator account; returns (account, simulator user id)."""
    key_id, pem = sim.add_account(balance)
    account = KalshiAccount(name=f"{name}-{key_id[:8]}", environment="simulator", api_key_id=key_id)
    account.set_private_key(pem)
    account.save()
    return account, sim.user_id(key_id)


def make_order(
    user: Any, account: KalshiAccount, ticker: str, *, count: D = D("3"), price: D = D("0.02")
) -> Order:
    """An order row as `place_order` writes it (buy YES), without queueing its submission."""
    return Order.objects.create(
        user=user,
        account=account,
        ticker=ticker,
        outcome="yes",
        action="buy",
        price=price,
        book_side="bid",
        yes_price=price,
        count=count,
        remaining_count=count,
        time_in_force="gtc",
    )


def exchange_bid(sim: Any, user_id: str, ticker: str, count: D, price: D) -> tuple[str, Any]:
    """A GTC bid (buys YES) resting on the simulator in the account of `user_id`, as the app would have sent it:
    (its client_order_id, the simulator's order)."""
    coid = str(uuid.uuid4())
    order = sim.call(
        sim.exchange.create_order,
        user_id,
        ticker=ticker,
        side="bid",
        count=count,
        price=price,
        time_in_force="good_till_canceled",
        client_order_id=coid,
    )
    return coid, order


def counterparty(sim: Any) -> Trader:
    return Trader(sim, D("100000"))


def hit_bid(bob: Trader, ticker: str, count: D, price: D = D("0.02")) -> None:
    """Bob sells YES into our resting bid (a taker order that crosses it)."""
    response = bob.order(ticker, "ask", f"{count:.2f}", f"{price:.4f}", time_in_force="immediate_or_cancel")
    assert response.status_code == 201, response.text


def exchange_orders(
    sim: Any, user_id: str, *, ticker: str | None = None, client_order_id: str | None = None
) -> list[Any]:
    def collect() -> list[Any]:
        orders = sim.exchange.account(user_id).orders.values()
        return [
            o
            for o in orders
            if (ticker is None or o.ticker == ticker)
            and (client_order_id is None or o.client_order_id == client_order_id)
        ]

    return list(sim.call(collect))


def exchange_fills(sim: Any, user_id: str, order_id: str) -> list[Any]:
    """The simulator's fills of one order, oldest first."""
    return list(
        reversed(sim.call(lambda: [f for f in sim.exchange.account(user_id).fills if f.order_id == order_id]))
    )


def stream_fill(sim: Any, fill: Any, *, with_client_order_id: bool = True) -> m.Fill:
    """The `fill` message the private WebSocket channel carries for this simulator fill."""
    order = sim.call(lambda: sim.exchange.orders.get(fill.order_id))
    msg = wire.ws_fill_msg(fill, order)
    if not with_client_order_id:
        msg.pop("client_order_id", None)
    parsed = m.parse_message({"type": "fill", "sid": 1, "msg": msg})
    assert isinstance(parsed, m.Fill)
    return parsed


def rest_fill(fill: Any) -> k.PortfolioFill:
    """The same fill as GET /portfolio/fills returns it (no client_order_id)."""
    return k.PortfolioFill.from_dict(wire.fill_json(fill))


def user_order_msg(sim: Any, order_id: str) -> m.UserOrder:
    """A `user_order` message with the simulator's current view of the order."""
    msg = sim.call(lambda: wire.ws_user_order_msg(sim.exchange.orders[order_id]))
    parsed = m.parse_message({"type": "user_order", "sid": 2, "msg": msg})
    assert isinstance(parsed, m.UserOrder)
    return parsed


def local_status(remote_status: str) -> str:
    return {
        "resting": Order.Status.RESTING,
        "executed": Order.Status.EXECUTED,
        "canceled": Order.Status.CANCELED,
    }[remote_status]
