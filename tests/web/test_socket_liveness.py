"""In headless Chromium: the page answers the server's liveness pings, so a reading browser stays live, and
its answers are the acknowledgements the server's flow control waits for, so it keeps getting updates."""

from __future__ import annotations

import json
import time

import pytest
import redis

from markets.hub import market_channel, sign_frame
from tests.factories import make_market, make_user
from tests.helpers import landed

pytestmark = [pytest.mark.browser]


@pytest.fixture
def fast_pings(monkeypatch):
    monkeypatch.setenv("KALSHIWEB_SOCKET_PING_SECONDS", "1")
    monkeypatch.setenv("KALSHIWEB_SOCKET_PONG_TIMEOUT", "3")


@pytest.fixture
def small_window(monkeypatch):
    monkeypatch.setenv("KALSHIWEB_SOCKET_WINDOW_BYTES", "2000")


def log_in(page, base: str) -> None:
    make_user("alice")
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(landed(base))


def test_a_reading_page_answers_pings_and_stays_live(fast_pings, daphne_server, page):
    make_market("KXFED-26DEC-T4.25")
    log_in(page, daphne_server)
    closes = []
    page.on("websocket", lambda ws: ws.on("close", lambda _ws: closes.append(1)))
    page.goto(f"{daphne_server}/markets/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    page.wait_for_timeout(7000)  # more than twice the pong timeout
    assert page.locator("#conn-badge").inner_text() == "Live"
    assert closes == []


def test_a_reading_page_acknowledges_what_it_reads_and_keeps_getting_updates(
    fast_pings, small_window, daphne_server, page, settings
):
    ticker = "KXFLOW-26DEC-T1"
    make_market(ticker)
    log_in(page, daphne_server)
    received: list[str] = []
    closes = []

    def on_socket(ws) -> None:
        ws.on("framereceived", lambda payload: received.append(payload if isinstance(payload, str) else ""))
        ws.on("close", lambda _ws: closes.append(1))

    page.on("websocket", on_socket)
    page.goto(f"{daphne_server}/markets/")
    page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=15000)
    client = redis.Redis.from_url(settings.REDIS_URL)
    pad = "x" * 500
    try:
        for i in range(1, 61):  # 20 Hz for 3 s, ~600 characters each: ~9 windows of 2000 at 10/s delivered
            row = f'<div class="quote-cells" id="rowq-{ticker}" hx-swap-oob="true" data-pad="{pad}">seq-{i}</div>'
            update = json.dumps({"ticker": ticker, "row": row, "detail": row})
            client.publish(market_channel(ticker), sign_frame(ticker, update))
            time.sleep(0.05)
    finally:
        client.close()
    # The last state arrives although everything sent was several times the window: the page's pongs opened it.
    page.locator(f"#rowq-{ticker}").filter(has_text="seq-60").wait_for(timeout=5000)
    market_chars = sum(len(f) for f in received if "seq-" in f)
    assert market_chars > 4 * 2000
    assert any(f.startswith("<!--kw:ping:") for f in received)
    assert page.locator("#conn-badge").inner_text() == "Live"
    assert closes == []
