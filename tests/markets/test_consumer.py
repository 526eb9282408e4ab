"""The browser socket over a real Redis: fan-out, conflation, interest registration, bad input."""

from __future__ import annotations

import asyncio
import json
import re
import time
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
import redis.asyncio as aioredis
from channels.testing import WebsocketCommunicator
from django.conf import settings

from markets.consumers import ExposeServerSend, MarketStreamConsumer
from markets.hub import current_hub, market_channel, sign_frame

pytestmark = pytest.mark.asyncio

TRADER = SimpleNamespace(is_authenticated=True, pk=1)


class EveryMarketOpen:
    async def filter(self, tickers):
        return set(tickers)


@pytest.fixture(autouse=True)
def every_market_open(monkeypatch):
    """These tests are about the socket itself, not about which markets exist: which tickers a page may watch
    is tested on the real database through daphne in tests/web/test_socket_admission.py."""
    from markets import consumers

    monkeypatch.setattr(consumers, "open_markets", EveryMarketOpen())


@pytest.fixture
async def redis_client():
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    yield client
    hub = current_hub()
    if hub is not None:
        await hub.close()
    await client.aclose()


async def connect(path: str, user=TRADER) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(MarketStreamConsumer.as_asgi(), path)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def publish_until_received(
    client, ticker: str, payload: dict, communicator, timeout: float = 3.0
) -> str:
    """Publish (repeatedly, since the hub subscribes asynchronously) until the browser gets a frame."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await client.publish(market_channel(ticker), sign_frame(ticker, json.dumps(payload)))
        # receive_nothing() waits without cancelling the app (receive_from's timeout would).
        if not await communicator.receive_nothing(timeout=0.2):
            return await communicator.receive_from()
    raise AssertionError("no frame reached the browser")


async def test_it_closes_the_socket_of_an_anonymous_visitor():
    communicator = WebsocketCommunicator(MarketStreamConsumer.as_asgi(), "/ws/markets/?tickers=ABC")
    communicator.scope["user"] = SimpleNamespace(is_authenticated=False)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


async def test_it_relays_a_published_update_for_a_watched_market(redis_client):
    communicator = await connect("/ws/markets/?tickers=KXA-1,KXB-2&view=row")
    frame = await publish_until_received(
        redis_client,
        "KXB-2",
        {"ticker": "KXB-2", "row": "<div id='rowq-KXB-2'>42¢</div>", "detail": "x"},
        communicator,
    )
    assert frame == "<div id='rowq-KXB-2'>42¢</div>"
    await communicator.disconnect()


async def test_behind_expose_server_send_market_frames_skip_the_inner_send_wrappers(redis_client):
    """Under kalshiweb.asgi the stack starts with ExposeServerSend: market frames and pings go to the server's
    send directly; accept, error frames and the rest still pass through the middlewares' send."""
    seen_by_middleware: list[dict] = []

    def spy_middleware(inner):
        async def app(scope, receive, send):
            async def spy_send(message):
                seen_by_middleware.append(message)
                await send(message)

            return await inner(scope, receive, spy_send)

        return app

    app = ExposeServerSend(spy_middleware(MarketStreamConsumer.as_asgi()))
    communicator = WebsocketCommunicator(app, "/ws/markets/?tickers=KXA-1,bad!&view=row")
    communicator.scope["user"] = TRADER
    connected, _ = await communicator.connect()
    assert connected
    assert "invalid ticker" in await communicator.receive_from()  # an error frame: through the stack
    frame = await publish_until_received(redis_client, "KXA-1", {"row": "<i>direct</i>"}, communicator)
    assert frame == "<i>direct</i>"
    await communicator.disconnect()
    texts = [m.get("text", "") for m in seen_by_middleware if m["type"] == "websocket.send"]
    assert any("invalid ticker" in t for t in texts)
    assert "<i>direct</i>" not in texts
    assert any(m["type"] == "websocket.accept" for m in seen_by_middleware)


async def test_the_apps_socket_stack_exposes_the_server_send():
    from kalshiweb.asgi import application

    assert isinstance(application.application_mapping["websocket"], ExposeServerSend)


async def test_it_sends_the_detail_fragment_to_a_detail_page(redis_client):
    communicator = await connect("/ws/markets/?tickers=KXA-1&view=detail")
    frame = await publish_until_received(
        redis_client, "KXA-1", {"row": "row", "detail": "<b>detail</b>"}, communicator
    )
    assert frame == "<b>detail</b>"
    await communicator.disconnect()


async def test_it_conflates_a_burst_to_the_latest_state(redis_client):
    communicator = await connect("/ws/markets/?tickers=KXA-1&view=row")
    await publish_until_received(redis_client, "KXA-1", {"row": "warmup"}, communicator)
    for i in range(200):
        await redis_client.publish(market_channel("KXA-1"), sign_frame("KXA-1", json.dumps({"row": f"v{i}"})))
    frames = []
    while not await communicator.receive_nothing(timeout=0.5):
        frames.append(await communicator.receive_from())
    assert frames[-1] == "v199"
    # 200 updates published in a burst reach the browser as a handful of frames, not 200.
    assert len(frames) < 20
    await communicator.disconnect()


async def test_a_status_frame_is_not_replaced_by_the_quotes_that_follow_it(redis_client):
    """A market's status change (a frame with a `slot`) published in a burst of quotes still reaches the page:
    latest-wins applies to quotes, not to the rare frames kept beside them."""
    communicator = await connect("/ws/markets/?tickers=KXA-1&view=detail")
    await publish_until_received(redis_client, "KXA-1", {"detail": "warmup"}, communicator)
    frames = [{"detail": f"q{i}"} for i in range(50)]
    frames.insert(10, {"detail": "<b>settled</b>", "slot": "status"})
    for update in frames:
        await redis_client.publish(market_channel("KXA-1"), sign_frame("KXA-1", json.dumps(update)))
    received = []
    while not await communicator.receive_nothing(timeout=0.5):
        received.append(await communicator.receive_from())
    assert any("<b>settled</b>" in text for text in received)
    assert "q49" in received[-1]  # and the quotes still end on the newest
    await communicator.disconnect()


async def test_it_registers_interest_for_the_feed_and_removes_it_on_disconnect(redis_client):
    communicator = await connect("/ws/markets/?tickers=KXA-1,KXB-2")
    hub = current_hub()
    assert hub is not None
    members = await redis_client.smembers(hub.watch_key)
    assert {m.decode() for m in members} == {"KXA-1", "KXB-2"}
    assert 0 < await redis_client.ttl(hub.watch_key) <= 30
    await communicator.disconnect()
    assert await redis_client.exists(hub.watch_key) == 0


async def test_it_sends_the_latest_stored_state_on_connect(redis_client):
    await redis_client.set(
        "kw:frag:KXSNAP-1", sign_frame("KXSNAP-1", json.dumps({"row": "<i>snapshot</i>", "detail": "d"}))
    )
    communicator = await connect("/ws/markets/?tickers=KXSNAP-1")
    assert await communicator.receive_from(timeout=2) == "<i>snapshot</i>"
    await communicator.disconnect()
    await redis_client.delete("kw:frag:KXSNAP-1")


@pytest.mark.parametrize(
    "bad", ["not json", "[1, 2]", json.dumps({"action": "explode"}), json.dumps({"action": "watch"})]
)
async def test_it_answers_a_malformed_browser_message_with_an_error_frame_and_keeps_going(redis_client, bad):
    communicator = await connect("/ws/markets/?tickers=KXA-1")
    await communicator.send_to(text_data=bad)
    frame = await communicator.receive_from(timeout=2)
    assert 'id="ws-error"' in frame and "hx-swap-oob" in frame
    # Still alive: a valid watch command works afterwards.
    await communicator.send_to(text_data=json.dumps({"action": "watch", "tickers": ["KXC-3"]}))
    frame = await publish_until_received(redis_client, "KXC-3", {"row": "after"}, communicator)
    assert frame == "after"
    await communicator.disconnect()


async def test_it_refuses_invalid_tickers_and_more_markets_than_the_limit(redis_client, monkeypatch):
    monkeypatch.setattr("markets.consumers.MAX_MARKETS", 3)
    communicator = await connect("/ws/markets/?tickers=A-1,B-2,C-3,D-4,<script>")
    frames = [await communicator.receive_from(timeout=2), await communicator.receive_from(timeout=2)]
    assert any("invalid ticker" in f for f in frames)
    assert any("at most 3 markets" in f for f in frames)
    hub = current_hub()
    assert set(hub.listeners) == {"A-1", "B-2", "C-3"}
    await communicator.disconnect()


async def test_an_operator_can_close_every_socket_so_browsers_reconnect(redis_client):
    from markets.hub import control_channel

    communicator = await connect("/ws/markets/?tickers=KXA-1")
    await redis_client.publish(control_channel(), json.dumps({"action": "close_all"}))
    output = await communicator.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4012}


async def test_a_deployment_on_another_redis_db_does_not_close_these_sockets(redis_client):
    """Pub/sub is not scoped by Redis db: two deployments (or two test workers) on one Redis server, each on its
    own db, must not hear each other's operator commands or market data (a CI run once saw a socket closed
    by another worker's `close_sockets`)."""
    import io

    from asgiref.sync import sync_to_async
    from django.core.management import call_command
    from django.test import override_settings

    base, db = settings.REDIS_URL.rsplit("/", 1)
    other = f"{base}/{(int(db or 0) + 8) % 16}"
    communicator = await connect("/ws/markets/?tickers=KXA-1")
    await warm_up(redis_client, communicator, ["KXA-1"])

    def close_on_the_other_deployment() -> None:
        with override_settings(REDIS_URL=other):
            call_command("close_sockets", stdout=io.StringIO())

    await sync_to_async(close_on_the_other_deployment)()
    assert await communicator.receive_nothing(timeout=1.0)
    await communicator.disconnect()


async def test_it_refuses_new_sockets_while_draining(redis_client):
    from markets.hub import REFUSE_KEY

    await redis_client.set(REFUSE_KEY, str(time.time() + 30))
    try:
        communicator = WebsocketCommunicator(MarketStreamConsumer.as_asgi(), "/ws/markets/?tickers=KXA-1")
        communicator.scope["user"] = TRADER
        connected, code = await communicator.connect()
    finally:
        await redis_client.delete(REFUSE_KEY)
    assert not connected and code == 4013


async def test_a_busy_market_does_not_delay_another_on_the_same_socket(redis_client):
    communicator = await connect("/ws/markets/?tickers=KXA-1,KXB-2&view=row")
    await publish_until_received(redis_client, "KXA-1", {"row": "warmup"}, communicator)
    for i in range(50):
        await redis_client.publish(market_channel("KXA-1"), sign_frame("KXA-1", json.dumps({"row": f"a{i}"})))
    sent_b = time.monotonic()
    await redis_client.publish(market_channel("KXB-2"), sign_frame("KXB-2", json.dumps({"row": "b-now"})))
    frames = []
    while not await communicator.receive_nothing(timeout=0.3):
        frames.append((time.monotonic(), await communicator.receive_from()))
    b_frames = [t for t, f in frames if "b-now" in f]
    assert b_frames and b_frames[0] - sent_b < 0.25  # KXB-2 was not held back by KXA-1's throttle
    assert frames[-1][1].endswith("a49") or any(f.endswith("a49") for _, f in frames)
    await communicator.disconnect()


async def test_a_socket_that_stops_answering_pings_is_closed(redis_client, monkeypatch):
    monkeypatch.setattr("markets.consumers.PING_SECONDS", 0.1)
    monkeypatch.setattr("markets.consumers.PONG_TIMEOUT", 0.35)
    communicator = await connect("/ws/markets/?tickers=KXA-1")
    assert (await communicator.receive_from(timeout=2)).startswith("<!--kw:ping:")
    # Never answered: after the timeout the server closes with "try again later" (a live page reconnects).
    while True:
        output = await communicator.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == 4013


async def test_a_socket_that_echoes_its_pings_stays_open(redis_client, monkeypatch):
    monkeypatch.setattr("markets.consumers.PING_SECONDS", 0.1)
    monkeypatch.setattr("markets.consumers.PONG_TIMEOUT", 0.35)
    communicator = await connect("/ws/markets/?tickers=KXA-1")
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        frame = await communicator.receive_from(timeout=2)
        nonce = int(frame.removeprefix("<!--kw:ping:").removesuffix("-->"))
        await communicator.send_to(text_data=json.dumps({"action": "pong", "n": nonce}))
    # Over 1 s, three times the timeout, every frame was a ping (receive_from fails on a close): still open.
    frame = await communicator.receive_from(timeout=2)
    assert frame.startswith("<!--kw:ping:")
    await communicator.disconnect()


# ---- flow control: a page that does not acknowledge what it was sent gets no more than a window of it

PAD = "x" * 1000
MARK_RE = re.compile(r"\[(KX[AB]-\d):(\d+)\]")


def fragment(ticker: str, seq: int) -> str:
    return f"<div id='rowq-{ticker}'>[{ticker}:{seq}]{PAD}</div>"


async def publish_for(client, tickers: list[str], seconds: float, start: int = 0) -> dict[str, int]:
    """Publish a new state of every market every 20 ms (far above the 10/s cap); the last seq of each."""
    seq = start
    last: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seq += 1
        for t in tickers:
            await client.publish(market_channel(t), sign_frame(t, json.dumps({"row": fragment(t, seq)})))
            last[t] = seq
        await asyncio.sleep(0.02)
    return last


async def warm_up(client, communicator, tickers: list[str], pings: list[int] | None = None) -> int:
    """Make sure the hub is subscribed to every market; returns the characters of market frames received
    doing so (and appends the nonces of the pings received to `pings`)."""
    frames = []
    for t in tickers:
        frames.append(await publish_until_received(client, t, {"row": fragment(t, 0)}, communicator))
    while not await communicator.receive_nothing(timeout=0.2):  # stragglers of the repeated publishes
        frames.append(await communicator.receive_from())
    if pings is not None:
        pings += [nonce(f) for f in frames if is_ping(f)]
    return sum(len(f) for f in frames if not is_ping(f))


def is_ping(frame: str) -> bool:
    return frame.startswith("<!--kw:ping:")


def nonce(frame: str) -> int:
    return int(frame.removeprefix("<!--kw:ping:").removesuffix("-->"))


def flow_control(monkeypatch, window: int, ping: float, timeout: float) -> None:
    monkeypatch.setattr("markets.consumers.WINDOW", window)
    monkeypatch.setattr("markets.consumers.PING_SECONDS", ping)
    monkeypatch.setattr("markets.consumers.PONG_TIMEOUT", timeout)


async def test_a_socket_that_never_answers_gets_at_most_a_window_then_is_closed(redis_client, monkeypatch):
    window = 3000
    flow_control(monkeypatch, window, ping=0.25, timeout=2.0)
    tickers = ["KXA-1", "KXB-2"]
    communicator = await connect("/ws/markets/?tickers=KXA-1,KXB-2&view=row")
    received = await warm_up(redis_client, communicator, tickers)
    publisher = asyncio.create_task(publish_for(redis_client, tickers, 4.0))
    started = time.monotonic()
    closed = None
    while closed is None and time.monotonic() - started < 6:
        if await communicator.receive_nothing(timeout=0.1):
            continue
        output = await communicator.receive_output()
        if output["type"] == "websocket.close":
            closed = output
        elif not is_ping(output["text"]):
            received += len(output["text"])
    last = await publisher
    # Offered: ~2 markets × 10 updates/s × ~1 kB for ~2 s after warm-up, several windows; got at most one
    # window plus one frame (one fragment per market), and then the close after the pong timeout.
    assert last["KXA-1"] > 100
    assert received <= window + len(tickers) * len(fragment("KXA-1", 999))
    assert received >= window  # it did send until the window was full
    assert closed == {"type": "websocket.close", "code": 4013}


async def test_a_socket_that_answers_keeps_receiving_every_latest_state(redis_client, monkeypatch):
    window = 3000
    flow_control(monkeypatch, window, ping=0.25, timeout=1.0)
    tickers = ["KXA-1", "KXB-2"]
    communicator = await connect("/ws/markets/?tickers=KXA-1,KXB-2&view=row")
    received = await warm_up(redis_client, communicator, tickers)
    publisher = asyncio.create_task(publish_for(redis_client, tickers, 2.5))
    seen: dict[str, int] = {}
    deadline = time.monotonic() + 6
    # Until the publisher is done and the page shows its last update (heartbeat pings never stop).
    while time.monotonic() < deadline and not (publisher.done() and seen == publisher.result()):
        if await communicator.receive_nothing(timeout=0.05):
            continue
        output = await communicator.receive_output()
        assert output["type"] == "websocket.send", output  # never closed: it answers (2.5 s > timeout)
        frame = output["text"]
        if is_ping(frame):
            await communicator.send_to(text_data=json.dumps({"action": "pong", "n": nonce(frame)}))
            continue
        received += len(frame)
        for ticker, seq in MARK_RE.findall(frame):
            seen[ticker] = int(seq)
    last = await publisher
    assert seen == last  # ends on the newest state of every market
    # ~2 markets × 10/s × 1 kB × 2.5 s ≈ 50 kB: many windows went through, paced by the rate cap, not stalled.
    assert received > 10 * window
    await communicator.disconnect()


async def publish_until_stalled(redis_client, communicator, tickers, pings: list[int]) -> dict[str, int]:
    """Publish for a second while reading without answering pings (their nonces go to `pings`), until the
    socket has stopped sending; returns the newest sequence published per market."""
    publisher = asyncio.create_task(publish_for(redis_client, tickers, 1.0))
    while not publisher.done() or not await communicator.receive_nothing(timeout=0.3):
        if await communicator.receive_nothing(timeout=0.05):
            continue
        frame = await communicator.receive_from()
        if is_ping(frame):
            pings.append(nonce(frame))
    return await publisher


async def test_after_a_late_pong_a_stalled_socket_resumes_with_the_newest_state(redis_client, monkeypatch):
    window = 3000
    flow_control(monkeypatch, window, ping=30, timeout=60)  # no periodic ping or close during the test
    tickers = ["KXA-1", "KXB-2"]
    communicator = await connect("/ws/markets/?tickers=KXA-1,KXB-2&view=row")
    pings: list[int] = []
    await warm_up(redis_client, communicator, tickers, pings)
    stalled_at = await publish_until_stalled(redis_client, communicator, tickers, pings)
    assert pings  # it asked for an acknowledgement and then stopped
    # Stalled: a second burst of updates sends nothing at all.
    last = await publish_for(redis_client, tickers, 0.5, start=stalled_at["KXA-1"])
    assert await communicator.receive_nothing(timeout=0.3)
    # The page answers the newest ping late: it gets the newest state of each market once, not a backlog.
    await communicator.send_to(text_data=json.dumps({"action": "pong", "n": pings[-1]}))
    got = []
    while not await communicator.receive_nothing(timeout=0.5):
        frame = await communicator.receive_from()
        got += [(t, int(s)) for t, s in MARK_RE.findall(frame)]
    assert sorted(got) == sorted(last.items())
    await communicator.disconnect()


async def test_a_pong_with_an_unknown_or_malformed_nonce_acknowledges_nothing(redis_client, monkeypatch):
    window = 3000
    flow_control(monkeypatch, window, ping=30, timeout=60)
    tickers = ["KXA-1", "KXB-2"]
    communicator = await connect("/ws/markets/?tickers=KXA-1,KXB-2&view=row")
    pings: list[int] = []
    await warm_up(redis_client, communicator, tickers, pings)
    start = await publish_until_stalled(redis_client, communicator, tickers, pings)
    for bad in (pings[-1] + 1, str(pings[-1]), [pings[-1]], True, None, 1.5):
        await communicator.send_to(text_data=json.dumps({"action": "pong", "n": bad}))
    await publish_for(redis_client, tickers, 0.3, start=start["KXA-1"])
    assert await communicator.receive_nothing(timeout=0.3)  # still stalled, and nothing crashed
    await communicator.send_to(text_data=json.dumps({"action": "pong", "n": pings[-1]}))
    assert MARK_RE.search(await communicator.receive_from(timeout=2))
    await communicator.disconnect()


async def test_a_channel_layer_error_on_disconnect_still_detaches_from_the_hub(redis_client, monkeypatch):
    from channels.layers import get_channel_layer
    from redis.exceptions import MaxConnectionsError

    async def no_connection(*args, **kwargs):
        raise MaxConnectionsError("Too many connections")

    communicator = await connect("/ws/markets/?tickers=KXA-1")
    hub = current_hub()
    assert hub.listeners.get("KXA-1")
    monkeypatch.setattr(type(get_channel_layer()), "group_discard", no_connection)
    await communicator.disconnect()
    assert not hub.listeners.get("KXA-1")
    assert await redis_client.exists(hub.watch_key) == 0


async def test_a_channel_layer_error_on_connect_asks_the_page_to_try_again_later(redis_client, monkeypatch):
    from channels.layers import get_channel_layer
    from redis.exceptions import MaxConnectionsError

    async def no_connection(*args, **kwargs):
        raise MaxConnectionsError("Too many connections")

    monkeypatch.setattr(type(get_channel_layer()), "group_add", no_connection)
    communicator = WebsocketCommunicator(MarketStreamConsumer.as_asgi(), "/ws/markets/?tickers=KXA-1")
    communicator.scope["user"] = TRADER
    connected, code = await communicator.connect()
    assert not connected and code == 4013
    await communicator.wait()
    hub = current_hub()
    assert hub is None or not hub.listeners.get("KXA-1")


@pytest.mark.django_db(transaction=True)
async def test_an_order_row_goes_only_to_its_markets_page_and_its_toast_everywhere(redis_client):
    """Issue #12 item 19: a page without the order's row must not be sent it (htmx:oobErrorNoTarget)."""
    from channels.db import database_sync_to_async

    from tests.factories import make_market, make_user
    from trading.lifecycle import notify_user, render_order_update
    from trading.models import KalshiAccount, Order

    def setup() -> Order:
        make_market("KXA-1")
        user = make_user("alice")
        account = KalshiAccount.objects.create(name="acct", api_key_id="k")
        return Order.objects.create(
            user=user, account=account, ticker="KXA-1", outcome="yes", action="buy", price=D("0.40"),
            book_side="bid", yes_price=D("0.40"), count=D("1"), remaining_count=D("1"),
        )  # fmt: skip

    order = await database_sync_to_async(setup)()
    user = SimpleNamespace(is_authenticated=True, pk=order.user_id)
    mine = await connect("/ws/markets/?tickers=KXA-1&view=detail", user=user)
    other = await connect("/ws/markets/?tickers=KXB-2&view=detail", user=user)
    listing = await connect("/ws/markets/?tickers=KXA-1&view=row", user=user)
    await asyncio.sleep(0.2)
    await database_sync_to_async(
        lambda: notify_user(order.user_id, render_order_update(order, toast="Filled 1"))
    )()
    got_mine = [await mine.receive_from(), await mine.receive_from()]
    assert any(f'id="order-{order.pk}"' in f for f in got_mine) and any("Filled 1" in f for f in got_mine)
    for page in (other, listing):
        assert "Filled 1" in await page.receive_from()
        assert await page.receive_nothing(timeout=0.3)  # no row: it has nowhere to go there
    for page in (mine, other, listing):
        await page.disconnect()
