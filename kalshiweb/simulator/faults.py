"""Fault injection for the simulator: the failures a real exchange connection shows, on demand.

Every switch can be flipped from any thread (tests call them directly) or over HTTP at ``/_sim/faults/...``
(loopback clients only). Switches that act on live WebSocket sessions run on the simulator loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

FAIL_MODES = ("429", "500", "timeout_after_accept")
T = TypeVar("T")


class SessionHub(Protocol):
    def drop_all(self) -> int: ...

    def skip_seq(self, count: int) -> int: ...


@dataclass
class FailRule:
    remaining: int
    mode: str
    path_prefix: str | None
    hang_seconds: float


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FailRule] = []
        self._latency = 0.0
        self._silenced = False
        self._clock_skew = 0.0
        self._failing_commands: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hub: SessionHub | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, hub: SessionHub) -> None:
        self._loop = loop
        self._hub = hub

    # -- switches -------------------------------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Abruptly close every WebSocket session (transport abort, no close frame). Returns how many."""
        return self._on_loop(lambda hub: hub.drop_all())

    def skip_seq(self, count: int = 1) -> int:
        """The next sequenced message on every live sequenced sid jumps ``count`` numbers. Returns sids hit."""
        if count < 1:
            raise ValueError("count must be >= 1")
        return self._on_loop(lambda hub: hub.skip_seq(count))

    def silence(self, on: bool = True) -> None:
        """While on, WebSocket data messages are dropped (they still use up seq numbers, so a client sees a
        gap afterwards); command replies and heartbeat pings/pongs continue."""
        with self._lock:
            self._silenced = on

    def fail_next(
        self, n: int = 1, mode: str = "500", path_prefix: str | None = None, hang_seconds: float = 30.0
    ) -> None:
        """The next ``n`` REST requests (whose path, relative to /trade-api/v2, starts with ``path_prefix``)
        fail: "429" (rate-limit body), "500" (internal error body) or "timeout_after_accept" (the request is
        processed, then the connection hangs ``hang_seconds`` and is closed without any response)."""
        if mode not in FAIL_MODES:
            raise ValueError(f"mode must be one of {FAIL_MODES}")
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._rules.append(FailRule(n, mode, path_prefix, hang_seconds))

    def latency(self, seconds: float) -> None:
        """Delay every REST response by ``seconds`` (0 = off)."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = seconds

    def clock_skew(self, seconds: float) -> None:
        """The exchange's clock runs ``seconds`` ahead (negative: behind) of this machine's: its ``Date``
        header says so, and request signatures are checked against it (as a client with a wrong clock sees)."""
        with self._lock:
            self._clock_skew = float(seconds)

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self._latency = 0.0
            self._silenced = False
            self._clock_skew = 0.0
            self._failing_commands.clear()

    def fail_commands(self, n: int = 1, code: int = 10) -> None:
        """The next ``n`` WebSocket commands (of any session) are answered with error ``code`` ("Channel error"
        by default, which a client may retry) instead of being carried out."""
        with self._lock:
            self._failing_commands.extend([code] * n)

    def take_command_failure(self) -> int | None:
        """The error code the next command is answered with, if one is pending."""
        with self._lock:
            return self._failing_commands.pop(0) if self._failing_commands else None

    # -- what the server reads ------------------------------------------------------------------------------

    @property
    def silenced(self) -> bool:
        return self._silenced

    @property
    def latency_seconds(self) -> float:
        return self._latency

    @property
    def clock_skew_seconds(self) -> float:
        return self._clock_skew

    def take_failure(self, path: str) -> FailRule | None:
        """Consume one pending failure matching ``path`` (relative to /trade-api/v2), if any."""
        with self._lock:
            for rule in self._rules:
                if rule.path_prefix is None or path.startswith(rule.path_prefix):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    return FailRule(1, rule.mode, rule.path_prefix, rule.hang_seconds)
        return None

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "silenced": self._silenced,
                "latency_seconds": self._latency,
                "clock_skew_seconds": self._clock_skew,
                "fail_next": [
                    {"remaining": r.remaining, "mode": r.mode, "path_prefix": r.path_prefix}
                    for r in self._rules
                ],
            }

    def _on_loop(self, fn: Callable[[SessionHub], T]) -> T:
        hub, loop = self._hub, self._loop
        if hub is None or loop is None:
            raise RuntimeError("faults are not attached to a running simulator")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return fn(hub)

        async def run() -> T:
            return fn(hub)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)
