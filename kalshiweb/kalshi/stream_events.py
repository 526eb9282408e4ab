"""What a `KalshiStream` delivers next to the exchange's messages (connection changes, gaps, refused markets,
errors it handled), and the health figures it reports.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from .errors import KalshiError


@dataclass(frozen=True, slots=True)
class Connected:
    reconnect_count: int
    type: str = "connected"


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    type: str = "disconnected"


@dataclass(frozen=True, slots=True)
class SequenceGap:
    sid: int
    channel: str
    expected: int
    received: int
    market_tickers: tuple[str, ...]
    type: str = "gap"


@dataclass(frozen=True, slots=True)
class SubscriptionsRestored:
    count: int
    type: str = "subscriptions_restored"


@dataclass(frozen=True, slots=True)
class MarketsRejected:
    """The exchange refused these markets (error 11, e.g. no such market): they were dropped from the
    subscription, which goes on with the rest."""

    subscription_id: int
    market_tickers: tuple[str, ...]
    reason: str
    type: str = "markets_rejected"


@dataclass(frozen=True, slots=True)
class StreamError:
    """An error the stream handled on its own (error frame, unparseable message, failed restore...)."""

    error: KalshiError = field(compare=False)
    type: str = "stream_error"


StreamEvent = Connected | Disconnected | SequenceGap | SubscriptionsRestored | MarketsRejected | StreamError


@dataclass(frozen=True, slots=True)
class StreamHealth:
    connected: bool
    reconnect_count: int
    gap_count: int
    messages_per_second: float
    last_message_age: dict[str, float | None]  # seconds since the last data message, per channel
    last_ping_age: float | None  # seconds since the server's last ping
    subscriptions: int
    stale_books: int
    dropped: int  # items not delivered because the consumer queue was full


class MessageRate:
    """Messages per second over the last ``window`` seconds, in one-second buckets."""

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self.buckets: collections.deque[list[int]] = collections.deque()

    def hit(self, now: float) -> None:
        second = int(now)
        if self.buckets and self.buckets[-1][0] == second:
            self.buckets[-1][1] += 1
        else:
            self.buckets.append([second, 1])
            while self.buckets and self.buckets[0][0] <= second - self.window:
                self.buckets.popleft()

    def rate(self, now: float) -> float:
        horizon = int(now) - self.window
        return sum(n for s, n in self.buckets if s > horizon) / self.window
