"""What the engine announces: one record per observable change, and the bus that fans them out.

The server's WebSocket hub subscribes with `EventBus.add_listener`; the engine never knows who listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kalshiweb.simulator.model import Fill, Order, Trade

log = logging.getLogger("kalshiweb.simulator.engine")


@dataclass
class BookDelta:
    ticker: str
    side: str  # "yes" | "no"
    price: Decimal  # NO side in NO-leg price
    delta: Decimal
    user_id: str | None
    client_order_id: str | None
    subaccount: int = 0


@dataclass
class TickerUpdate:
    ticker: str


@dataclass
class TradeEvent:
    trade: Trade


@dataclass
class FillEvent:
    user_id: str
    fill: Fill
    order: Order


@dataclass
class OrderUpdate:
    user_id: str
    order: Order


@dataclass
class PositionUpdate:
    user_id: str
    ticker: str
    subaccount: int = 0


@dataclass
class CommsEvent:
    """A `communications` message (RFQs and quotes, issue #15); `recipients` None = every subscriber."""

    msg_type: str
    msg: dict[str, Any]
    recipients: frozenset[str] | None


@dataclass
class LifecycleEvent:
    ticker: str
    # created|activated|deactivated|close_date_updated|determined|settled|price_level_structure_updated|metadata_updated
    event_type: str
    data: dict[str, object]  # wire-ready extra fields of the market_lifecycle_v2 msg


# order groups (order_groups.py): created|triggered|reset|deleted|limit_updated
@dataclass
class OrderGroupEvent:
    user_id: str
    order_group_id: str
    event_type: str
    contracts_limit: Decimal | None  # on created / limit_updated
    subaccount: int = 0


@dataclass
class ChannelBroadcast:
    """A ready message for every subscriber of a public channel (issue #15 breadth: `event_lifecycle` and
    `event_fee_update` on `market_lifecycle_v2`, both on `multivariate_market_lifecycle` for multivariate events)."""

    channels: tuple[str, ...]
    msg_type: str
    msg: dict[str, object]


SimEvent = (
    BookDelta
    | TickerUpdate
    | TradeEvent
    | FillEvent
    | OrderUpdate
    | PositionUpdate
    | LifecycleEvent
    | CommsEvent
    | OrderGroupEvent
    | ChannelBroadcast
)


class EventBus:
    """Calls every listener with every event, in order; a failing listener is logged and skipped."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[SimEvent], None]] = []

    def add_listener(self, fn: Callable[[SimEvent], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[SimEvent], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def emit(self, ev: SimEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a broken listener must not leave a half-applied match behind
                log.exception("simulator listener failed on %r", ev)
