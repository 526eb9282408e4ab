"""Small helpers shared by the tests: polling for a condition, picking a simulator market, logging in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until[T](predicate: Callable[[], T], timeout: float = 15.0, what: str = "the condition") -> T:
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def open_cent_market(sim: Any, where: Callable[[str], bool] = lambda ticker: True) -> str:
    """An active simulator market on the 1¢ grid (optionally one that `where` accepts, run on the sim loop)."""
    return str(
        sim.call(
            lambda: next(
                t
                for t, m in sim.exchange.markets.items()
                if m.status == "active" and m.price_level_structure == "linear_cent" and where(t)
            )
        )
    )


def browser_login(
    page: Any, base: str, username: str = "alice", password: str = "correct-horse-battery"
) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
