"""A `KalshiStream`'s subscriptions: the stable handle a caller keeps across reconnects, the per-channel state the
stream maps server sids onto, and a command awaiting its replies.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any

# Channels that take market filters in update_subscription.
MARKET_FILTERED = frozenset({"orderbook_delta", "ticker", "trade", "fill", "market_positions", "user_orders"})
# Channels whose silence is suspicious by default when a watchdog timeout is configured.
MOVING_CHANNELS = frozenset({"orderbook_delta", "ticker", "trade"})


class ChannelSub:
    __slots__ = ("channel", "handle", "last_data", "sid")

    def __init__(self, channel: str, handle: Subscription) -> None:
        self.channel = channel
        self.handle = handle
        self.sid: int | None = None
        self.last_data = time.monotonic()


class Subscription:
    """A stable handle for one ``subscribe`` call; survives reconnects (its sids do not)."""

    _ids = itertools.count(1)

    def __init__(
        self, channels: Sequence[str], tickers: Iterable[str] | None, params: dict[str, Any], watchdog: bool
    ) -> None:
        self.id = next(self._ids)
        self.channels = tuple(dict.fromkeys(channels))
        self.tickers: set[str] | None = None if tickers is None else set(tickers)
        self.params = params
        self.watchdog = watchdog
        self.rejected: set[str] = set()  # markets the exchange refused (error 11); never sent again
        self.channel_subs = {c: ChannelSub(c, self) for c in self.channels}
        self.active = asyncio.Event()
        self.inflight = False  # a subscribe command for this handle is awaiting its replies
        self.closed = False

    @property
    def sids(self) -> dict[str, int | None]:
        return {c: cs.sid for c, cs in self.channel_subs.items()}

    @property
    def use_yes_price(self) -> bool:
        return bool(self.params.get("use_yes_price"))

    def command_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"channels": list(self.channels), **self.params}
        if self.tickers is not None:
            params["market_tickers"] = sorted(self.tickers)
        return params

    def __repr__(self) -> str:
        return (
            f"Subscription(id={self.id}, channels={self.channels}, tickers={self.tickers}, sids={self.sids})"
        )


class PendingCommand:
    __slots__ = ("cmd", "expect", "future", "replies", "subs")

    def __init__(self, cmd: str, expect: int, subs: Sequence[ChannelSub] = ()) -> None:
        self.cmd = cmd
        self.expect = expect
        self.future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.replies: list[Any] = []
        self.subs = list(subs)

    def add(self, reply: Any) -> None:
        self.replies.append(reply)
        if len(self.replies) >= self.expect and not self.future.done():
            self.future.set_result(self.replies)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)
            self.future.exception()  # mark retrieved: nobody may be awaiting a fire-and-forget command
