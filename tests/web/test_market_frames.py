"""What arrives from Redis is trusted only when the feed signed it: a frame published into `kw:md:<ticker>` (or
stored as a snapshot in `kw:frag:<ticker>`) by anyone else never reaches a browser socket; the feed's does.

Real parts: daphne in a subprocess (as `make run` starts it), the real Redis, a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
import redis
from websockets.asyncio.client import connect

from markets.hub import market_channel
from markets.models import Market
from markets.publish import publish, render_update
from tests.factories import make_market, make_user

TICKER = "KXSIGN-26DEC-T1"
OTHER = "KXSIGN-26DEC-T2"
FORGED = "FORGED-HTML"


def genuine(client: redis.Redis, market: Market, marker: str) -> None:
    """Publish the way the feed does (markets.publish.publish), with `marker` in the rendered row."""
    quote = {"yes_bid": "0.41", "yes_ask": "0.43", "ts": time.time()}
    update = render_update(market, quote, None, [])
    update["row"] = f"{update['row']}<b>{marker}</b>"
    publish(client, market.ticker, update, quote=quote, book=None, trades=[])


def forged_update(label: str) -> str:
    row = f'<div id="rowq-{TICKER}" hx-swap-oob="true"><img src=x onerror="alert(1)">{FORGED}-{label}</div>'
    return json.dumps({"ticker": TICKER, "ts": time.time(), "row": row, "detail": row})


async def frames_until(ws, marker: str, timeout: float = 10.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        got.append(frame if isinstance(frame, str) else frame.decode())
        if marker in got[-1]:
            return got
    raise AssertionError(f"{marker} never arrived; got {got!r}")


def captured_genuine_frame(client: redis.Redis, market: Market) -> bytes:
    """The bytes the feed really published for `market` (to replay them elsewhere)."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(market_channel(market.ticker))
    try:
        pubsub.get_message(timeout=1.0)
        genuine(client, market, f"{FORGED}-replayed")
        message = pubsub.get_message(timeout=2.0)
        assert message is not None
        return message["data"]
    finally:
        pubsub.close()


@pytest.fixture
def cookie(client):
    client.force_login(make_user("alice"))
    return f"sessionid={client.cookies['sessionid'].value}"


def test_only_frames_the_feed_signed_reach_a_browser_socket(daphne_server, cookie, settings):
    market, other = make_market(TICKER), make_market(OTHER)
    r = redis.Redis.from_url(settings.REDIS_URL)
    ws_url = daphne_server.replace("http://", "ws://") + f"/ws/markets/?tickers={TICKER}&view=row"
    headers = {"Cookie": cookie}

    async def scenario() -> tuple[list[str], list[str]]:
        async with connect(ws_url, origin=daphne_server, additional_headers=headers) as ws:
            # The hub subscribes asynchronously: publish genuine frames until one arrives.
            for attempt in range(50):
                genuine(r, market, f"GENUINE-0-{attempt}")
                try:
                    frame = await asyncio.wait_for(ws.recv(), 0.2)
                except TimeoutError:
                    continue
                if "GENUINE-0" in str(frame):
                    break
            else:
                raise AssertionError("no genuine frame reached the socket")
            # Forgeries: an unsigned update; one behind a made-up signature; the feed's own frame for another
            # market replayed on this market's channel. Then a genuine one, which arrives, and none before it.
            r.publish(market_channel(TICKER), forged_update("plain"))
            r.publish(market_channel(TICKER), "0" * 64 + forged_update("badsig"))
            r.publish(market_channel(TICKER), captured_genuine_frame(r, other))
            await asyncio.sleep(0.3)
            genuine(r, market, "GENUINE-1")
            live = await frames_until(ws, "GENUINE-1")

        # A forged snapshot: a new socket reads kw:frag:<ticker> before any update.
        r.set(f"kw:frag:{TICKER}", forged_update("snapshot"), ex=60)
        async with connect(ws_url, origin=daphne_server, additional_headers=headers) as ws:
            await asyncio.sleep(1.0)
            genuine(r, market, "GENUINE-2")
            snap = await frames_until(ws, "GENUINE-2")
        return live, snap

    try:
        live, snap = asyncio.run(scenario())
    finally:
        r.delete(f"kw:frag:{TICKER}", f"kw:frag:{OTHER}")
        r.close()
    assert not [f for f in live if FORGED in f], live
    assert not [f for f in snap if FORGED in f], snap
    # The server says that it dropped them.
    log = "".join(
        p.read_text(errors="replace") for p in Path(os.environ["KALSHIWEB_VAR_DIR"]).glob("daphne-*.log")
    )
    assert "unsigned or forged" in log
