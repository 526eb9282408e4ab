"""In headless Chromium: the page answers the server's liveness pings, so a reading browser stays live."""

from __future__ import annotations

import pytest

from tests.factories import make_market, make_user

pytestmark = [pytest.mark.browser]


@pytest.fixture
def fast_pings(monkeypatch):
    monkeypatch.setenv("KALSHIWEB_SOCKET_PING_SECONDS", "1")
    monkeypatch.setenv("KALSHIWEB_SOCKET_PONG_TIMEOUT", "3")


def test_a_reading_page_answers_pings_and_stays_live(fast_pings, daphne_server, page):
    make_market("KXFED-26DEC-T4.25")
    make_user("alice")
    page.goto(f"{daphne_server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{daphne_server}/")
    closes = []
    page.on("websocket", lambda ws: ws.on("close", lambda _ws: closes.append(1)))
    page.goto(f"{daphne_server}/markets/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    page.wait_for_timeout(7000)  # more than twice the pong timeout
    assert page.locator("#conn-badge").inner_text() == "Live"
    assert closes == []
