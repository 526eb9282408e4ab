"""One row of a market's trade tape, wherever the trade came from (the feed's `trade` messages, the REST
first paint in the feed and in the page): the time in the project's time zone (KALSHIWEB_TIME_ZONE)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone


def trade_row(price: Decimal, count: Decimal, side: str, at: datetime, trade_id: str = "") -> dict[str, str]:
    """`ts` (epoch seconds) and `id` let the page's chart add the trade to its live candle once."""
    return {
        "price": str(price),
        "count": str(count),
        "side": side,
        "time": timezone.localtime(at).strftime("%H:%M:%S"),
        "ts": f"{at.timestamp():.3f}",
        "id": trade_id,
    }
