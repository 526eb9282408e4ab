"""Small helpers shared by the tests: polling for a condition, picking a simulator market, logging in."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
from django.contrib.auth.hashers import Argon2PasswordHasher


def wait_until[T](predicate: Callable[[], T], timeout: float = 15.0, what: str = "the condition") -> T:
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds.
    Polls every 10 ms at first, backing off to every 100 ms: most conditions hold within a few polls."""
    deadline = time.monotonic() + timeout
    interval = 0.01
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)
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


def landed(base: str) -> re.Pattern[str]:
    """The pages a login lands on: the desk's home sends a trader to the markets, or to the portfolio when they
    hold a position."""
    return re.compile(rf"^{re.escape(base)}/(markets|portfolio)/$")


def browser_login(
    page: Any, base: str, username: str = "alice", password: str = "correct-horse-battery"
) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(landed(base))


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 at its cheapest parameters, for tests only (tests/conftest.py puts it in place of the real one):
    the production parameters cost ≈0.3 s per hash on a 2-core machine, and most tests make a user. Hashes
    still start with `argon2$`, and a server process running the real settings (daphne in browser tests)
    verifies them as usual, reading the parameters from the hash."""

    time_cost = 1
    memory_cost = 8
    parallelism = 1


def sim_post(sim: Any, path: str, body: dict[str, Any]) -> None:
    """POST to one of the simulator's control endpoints (`/_sim/...`), which must answer 200."""
    response = httpx.post(sim.rest_base.split("/trade-api")[0] + path, json=body, timeout=10)
    assert response.status_code == 200, response.text


def wait_for_upstream_subscriber(sim: Any, channel: str, timeout: float = 30.0) -> None:
    """Until some socket to the simulator (the feed's, in these tests) subscribes to `channel`. A page can be
    live before the feed process has led and subscribed: what the exchange sends before then reaches no page."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sim.call(lambda: any(any(s.subs_for(channel)) for s in sim.app.hub.sessions)):
            return
        time.sleep(0.1)
    raise AssertionError(f"no upstream socket subscribed to {channel} within {timeout} s")


def open_page(user_id: int, view: str = "portfolio") -> str:
    """What a browser page's socket does when it opens (markets.consumers): a channel in the user's group, and
    the page registered as open (markets.presence). Returns the channel to receive on."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from markets import live, presence

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{user_id}", channel)
    live.client().zadd(presence.sockets_key(user_id), {presence.member(view, channel): time.time() + 60})
    return channel
