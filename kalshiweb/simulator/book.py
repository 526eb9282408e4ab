"""Read-only planning over one market's book: would an order cross, which makers would it take, and can
its account pay for that. Nothing here changes state (matching.py applies a plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kalshiweb.simulator import fees
from kalshiweb.simulator.model import BID, GTC, ONE, ZERO, Account, ExchangeError, Market, Order


@dataclass
class Plan:
    fills: list[tuple[Order, Decimal]]  # (maker, count), in price-time priority
    maker_cancels: list[Order]  # own resting orders canceled by self_trade_prevention_type="maker"
    stopped: bool  # taker_at_cross self-trade stop
    left: Decimal


def would_cross(m: Market, order: Order) -> bool:
    opp = m.no_book if order.book_side == BID else m.yes_book
    return bool(opp) and max(opp) >= ONE - order.own_price


def plan(m: Market, order: Order) -> Plan:
    opp = m.no_book if order.book_side == BID else m.yes_book
    threshold = ONE - order.own_price
    left = order.remaining_count
    fills: list[tuple[Order, Decimal]] = []
    cancels: list[Order] = []
    stopped = False
    for level in sorted((q for q in opp if q >= threshold), reverse=True):
        for maker in opp[level]:
            if maker.user_id == order.user_id:
                if order.self_trade_prevention_type == "maker":
                    cancels.append(maker)
                    continue
                stopped = True
                break
            take = min(left, maker.remaining_count)
            fills.append((maker, take))
            left -= take
            if not left:
                break
        if stopped or not left:
            break
    return Plan(fills, cancels, stopped, left)


def check_affordable(
    acct: Account,
    m: Market,
    order: Order,
    plan: Plan,
    *,
    available: Decimal,
    schedule: tuple[str, Decimal] = ("quadratic", ONE),
) -> None:
    """Raise `available_balance_too_low` unless `available` covers the plan's fills, fees and the rest."""
    held = acct.positions.get(m.ticker)
    pos = held.position if held else ZERO
    need = ZERO
    for maker, q in plan.fills:
        px = maker.yes_price if order.book_side == BID else ONE - maker.yes_price
        need += q * px + fees.schedule_fees(*schedule, q, maker.yes_price)[0]
        if order.book_side == BID:
            need -= min(q, max(-pos, ZERO))
            pos += q
        else:
            need -= min(q, max(pos, ZERO))
            pos -= q
    available += sum((c.reserved for c in plan.maker_cancels), ZERO)
    if order.time_in_force == GTC and not plan.stopped:
        need += plan.left * order.own_price
    if need > available:
        raise ExchangeError(
            400,
            "available_balance_too_low",
            "insufficient balance",
            f"need {need:.4f}, have {available:.4f}",
        )
