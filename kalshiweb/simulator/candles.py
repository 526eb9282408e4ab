"""Candlesticks (protocol §6.2) built from a market's trade, quote and open-interest history."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from decimal import Decimal
from typing import Any

from kalshiweb.simulator.model import ZERO, ExchangeError, Market, unix
from kalshiweb.simulator.numfmt import count_fp
from kalshiweb.simulator.numfmt import dollars as _d

PERIODS = (1, 60, 1440)
MAX_CANDLES = 5000


def _ceil_to(ts: int, period: int) -> int:
    return -(-ts // period) * period


def build_candlesticks(
    m: Market, start_ts: int, end_ts: int, period_minutes: int, *, now: datetime
) -> list[dict[str, Any]]:
    """One candle per period whose end lies in [start_ts, end_ts] (plus the in-progress period containing
    end_ts, when that is the current one), from the market's listing on.

    A candle covers (end - period, end]; yes_bid/yes_ask OHLC come from the recorded top-of-book history,
    `price` from trades (only `previous_dollars` when the period had none), open interest as of the end.
    """
    if period_minutes not in PERIODS:
        raise ExchangeError(400, "invalid_parameters", "period_interval must be 1, 60 or 1440")
    if end_ts < start_ts:
        raise ExchangeError(400, "invalid_parameters", "end_ts must not be before start_ts")
    period = period_minutes * 60
    listed = unix(m.created_time or m.open_time)
    lo = max(_ceil_to(int(start_ts), period), _ceil_to(listed + 1, period))
    # The period containing end_ts is included while it is still in progress (its end is after now).
    hi = min(_ceil_to(int(end_ts), period), _ceil_to(unix(now), period))
    if hi < lo:
        return []
    ends = list(range(lo, hi + 1, period))[-MAX_CANDLES:]

    q_ts = [q[0] for q in m.quote_history]
    trades = m.trade_history
    t_ts = [unix(t.created_time) for t in trades]
    oi_ts = [o[0] for o in m.oi_history]
    out: list[dict[str, Any]] = []
    for end in ends:
        begin = end - period
        # quotes: state at the period open, then every change inside (begin, end]
        i0 = bisect_right(q_ts, begin)
        i1 = bisect_right(q_ts, end)
        opening = m.quote_history[i0 - 1] if i0 else (begin, ZERO, Decimal(1))
        inside = m.quote_history[i0:i1]
        bids = [opening[1], *(q[1] for q in inside)]
        asks = [opening[2], *(q[2] for q in inside)]
        j0 = bisect_right(t_ts, begin)
        j1 = bisect_right(t_ts, end)
        period_trades = trades[j0:j1]
        price: dict[str, str] = {}
        if j0:
            price["previous_dollars"] = _d(trades[j0 - 1].yes_price)
        volume = sum((t.count for t in period_trades), ZERO)
        if period_trades:
            prices = [t.yes_price for t in period_trades]
            mean = sum((t.yes_price * t.count for t in period_trades), ZERO) / volume
            price.update(
                open_dollars=_d(prices[0]),
                low_dollars=_d(min(prices)),
                high_dollars=_d(max(prices)),
                close_dollars=_d(prices[-1]),
                mean_dollars=_d(mean),
                min_dollars=_d(min(prices)),
                max_dollars=_d(max(prices)),
            )
        k = bisect_right(oi_ts, end)
        oi = m.oi_history[k - 1][1] if k else ZERO
        out.append(
            {
                "end_period_ts": end,
                "yes_bid": {
                    "open_dollars": _d(bids[0]),
                    "low_dollars": _d(min(bids)),
                    "high_dollars": _d(max(bids)),
                    "close_dollars": _d(bids[-1]),
                },
                "yes_ask": {
                    "open_dollars": _d(asks[0]),
                    "low_dollars": _d(min(asks)),
                    "high_dollars": _d(max(asks)),
                    "close_dollars": _d(asks[-1]),
                },
                "price": price,
                "volume_fp": count_fp(volume),
                "open_interest_fp": count_fp(oi),
            }
        )
    return out
