"""In headless Chromium: when the live socket drops (the web server died, a proxy cut it), the ticket locks at
once with a reason, and unlocks only when a poll has brought fresh market data. Real parts: daphne, the feed
process, Redis, the simulator; the socket is cut between the page and the server (Playwright's WebSocket
route), with code 1000 so the page does not reconnect and polls instead."""

from __future__ import annotations

import re
import time

import pytest

from tests.helpers import landed

pytestmark = [pytest.mark.browser]


def test_the_ticket_locks_when_the_socket_drops_until_a_poll_brings_fresh_data(
    sim, trader, feed_process, daphne_server, page
):
    ticker = sim.call(lambda: next(t for t, m in sim.exchange.markets.items() if m.status == "active"))
    sockets: list = []

    def relay(ws) -> None:
        sockets.append((ws, ws.connect_to_server()))

    page.route_web_socket(re.compile(r"/ws/markets/"), relay)
    polls: list[float] = []
    page.on(
        "requestfinished",
        lambda req: polls.append(time.monotonic()) if "partial=market-book" in req.url else None,
    )
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(daphne_server))
    page.goto(f"{daphne_server}/markets/{ticker}/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
    place = page.locator("#ticket button[type=submit]")
    page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=30000)

    page_side, server_side = sockets[-1]
    dropped = time.monotonic()
    page_side.close(code=1000, reason="cut")
    server_side.close()
    # At once: long before the first poll (every 5 s) could say anything.
    page.locator("#ticket button[type=submit]:disabled").wait_for(timeout=1000)
    assert time.monotonic() - dropped < 2
    assert "connection" in page.locator("#ticket-stale").inner_text().lower()
    page.locator("#conn-badge").filter(has_text="Polling").wait_for(timeout=2000)

    # A poll brings the book again (the feed keeps it current): the ticket unlocks, not before.
    page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=20000)
    enabled = time.monotonic()
    assert [t for t in polls if dropped < t < enabled], "unlocked before any poll after the drop"
    assert page.locator("#ticket-stale").inner_text() == ""
    assert place.is_enabled()
