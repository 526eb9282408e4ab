"""Flatten: close the trader's whole position in one market at the best price the book offers now (issue #16).

The order is a reduce-only, immediate-or-cancel sell of the side the trader holds: a long YES sells YES at the
best YES bid; a long NO sells NO at the best NO bid (1 − the best YES ask). Reduce-only makes the exchange
refuse to turn it into a new position, whatever else fills meanwhile; IOC leaves nothing resting if the top
of the book is thinner than the position (the trader flattens again for the rest).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

ONE = Decimal(1)


class NothingToFlatten(Exception):
    """The reason no flatten order can be made (no position, or no bid on the held side)."""


def _best(book: dict[str, Any] | None, key: str, pick: Any) -> Decimal | None:
    levels = (book or {}).get(key) or []
    prices = [Decimal(str(level["price"])) for level in levels if Decimal(str(level.get("size") or 0)) > 0]
    return pick(prices) if prices else None


def flatten_order(position: Decimal, book: dict[str, Any] | None) -> dict[str, Any]:
    """The order (as the ticket's cleaned data) that closes `position` (net YES contracts; negative: NO)."""
    if position == 0:
        raise NothingToFlatten("You have no position in this market.")
    if position > 0:
        bid = _best(book, "bids", max)
        if bid is None:
            raise NothingToFlatten("Nobody is bidding for YES right now: there is nothing to sell into.")
        outcome, price = "yes", bid
    else:
        ask = _best(book, "asks", min)
        if ask is None:
            raise NothingToFlatten("Nobody is bidding for NO right now: there is nothing to sell into.")
        outcome, price = "no", ONE - ask
    return {
        "outcome": outcome,
        "action": "sell",
        "price": price,
        "count": abs(position),
        "time_in_force": "ioc",
        "expiration": None,
        "post_only": False,
        "reduce_only": True,
        "client_order_id": uuid.uuid4(),
    }
