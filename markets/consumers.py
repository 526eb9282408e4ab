"""The browser's market-data socket: one per page, any number of markets, HTML fragments out.

Browsers connect with the htmx ws extension to `/ws/markets/?tickers=A,B&view=row|detail`. The
consumer registers with the process Hub, sends the current state, then relays updates. Updates go
into a latest-wins buffer per market; a sender task flushes it at most MAX_UPDATES_PER_SECOND times
a second, so a browser gets at most that many updates per market per second, always the newest, and
a slow browser only ever holds one pending update per market.

Flow control: the server cannot rely on `send` blocking (daphne buffers without limit), so the page's
pong to a ping is the acknowledgement that it has read every frame sent before that ping. Market
frames stop while more than WINDOW characters are unacknowledged; updates then wait in the
latest-wins buffer (one per market) and the page resumes with the newest state when it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qs

import redis.asyncio as aioredis
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.html import escape

from kalshiweb import metrics
from markets import presence
from markets.hub import REFUSE_KEY, TRY_AGAIN_LATER, get_hub, open_frame
from markets.models import Market

log = logging.getLogger(__name__)

TICKER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
VIEWS = {
    "row",
    "detail",
    "portfolio",
    "combos",
    "orders",
}  # combos: issue #15 quotes; orders: the Orders page
# The portfolio page shows no market rows: a quote of a held market only prompts it to re-read its figures
# (static/js/portfolio.js re-reads on any frame); #kw-signal is on every page.
QUOTE_PROMPT = '<div id="kw-signal" hx-swap-oob="true" hidden></div>'
MAX_MARKETS = settings.KALSHIWEB_MAX_MARKETS_PER_SOCKET
BURST = 2.0  # updates of one market that may go back to back before the rate applies
# Liveness: every PING_SECONDS the page is sent a comment with a nonce that live.js echoes back. A socket
# that has not echoed any recent nonce for PONG_TIMEOUT seconds is not reading (a stalled tab, a dead
# network path) and is closed: that bounds how long a stalled browser is held (flow control below
# bounds how much). PING_SECONDS 0: no periodic ping; PONG_TIMEOUT 0: never close.
PING_SECONDS = float(settings.KALSHIWEB_SOCKET_PING_SECONDS)
PONG_TIMEOUT = float(settings.KALSHIWEB_SOCKET_PONG_TIMEOUT)
# Flow control: at most WINDOW characters of frames (the fragments are ASCII but for a few "¢", so this is
# within ~1% of UTF-8 bytes) may be sent and not yet acknowledged by a pong; a market frame goes out only
# while fewer are, so one goes over by at most one frame (one fragment per market). A ping follows every
# half window, so a page that answers within half a window's worth of updates never pauses. 0 disables.
WINDOW = settings.KALSHIWEB_SOCKET_WINDOW_BYTES
MAX_UNANSWERED = 16  # pings remembered; an answer to an older one is ignored
# A page's commands are small (a watch list of MAX_MARKETS tickers is a few KiB): anything larger is refused
# before it is parsed (a deeply nested frame would otherwise exhaust the JSON parser's recursion).
MAX_COMMAND_CHARS = settings.KALSHIWEB_SOCKET_MAX_COMMAND_BYTES
# Browser sockets one user may hold at once, across every web process (0: no limit); counted in Redis, each
# socket refreshing its entry with its pings, so the sockets of a process that died stop counting.
MAX_SOCKETS_PER_USER = settings.KALSHIWEB_MAX_SOCKETS_PER_USER
TOO_MANY_SOCKETS = 4008  # close code: policy (the page shows the reason)
# How long a socket's entry in the user's set (markets.presence) lasts unless its heartbeat renews it.
SOCKET_TTL = max(3 * PING_SECONDS, 30.0) if PING_SECONDS > 0 else presence.UNRENEWED_SECONDS
# Over the limit, a new socket asks again this many times, this far apart, before it is refused (the release of
# a socket its own page just closed may be in flight).
SLOT_ATTEMPTS = 4
SLOT_RETRY_SECONDS = 0.25


class OpenMarkets:
    """Which tickers are markets we know and that are open: only those may be watched (a bogus or closed
    ticker would only have the exchange refuse it). A per-process cache of the open tickers, reloaded every
    `ttl` seconds; a ticker not in it is looked up (a market listed since the last load)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self.known: set[str] = set()
        self.loaded = float("-inf")

    async def filter(self, tickers: list[str]) -> set[str]:
        if not tickers:
            return set()
        now = time.monotonic()
        if now - self.loaded > self.ttl:
            self.known = {t async for t in Market.objects.open().values_list("ticker", flat=True)}
            self.loaded = now
        misses = [t for t in tickers if t not in self.known]
        if misses:
            found = {
                t
                async for t in Market.objects.open()
                .filter(ticker__in=misses)
                .values_list("ticker", flat=True)
            }
            self.known |= found
        return {t for t in tickers if t in self.known}


open_markets = OpenMarkets()


SERVER_SEND_KEY = "kalshiweb.server_send"


class ExposeServerSend:
    """Outermost middleware of the browser socket's stack: puts the server's own ASGI `send` in the scope.

    Every market frame otherwise passes through Channels' consumer `send` methods and the session middleware's
    send wrapper; for a `websocket.send` that wrapper only reads the session's `modified` and `is_empty()`
    (it saves on `http.response.start` alone), and in the fan-out benchmark these layers cost ~10% of
    daphne's CPU. MarketStreamConsumer sends its market frames and pings straight to the server with it;
    the handshake, accept, close, error frames and order/fill pushes still go through the whole stack.
    (A middleware added inside this one that must see market frames would need them on the normal path.)
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await self.inner({**scope, SERVER_SEND_KEY: send}, receive, send)


def ping_frame(nonce: int) -> str:
    return f"<!--kw:ping:{nonce}-->"


def error_fragment(message: str) -> str:
    return f'<div id="ws-error" hx-swap-oob="true" class="ws-error" role="status">{escape(message)}</div>'


class MarketStreamConsumer(AsyncWebsocketConsumer):
    max_updates_per_second: float = float(settings.KALSHIWEB_MAX_UPDATES_PER_SECOND)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        self.view = (query.get("view") or ["row"])[0]
        if self.view not in VIEWS:
            self.view = "row"
        self.tickers: set[str] = set()
        self.pending: dict[str, str] = {}
        self.wakeup = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None
        self.heartbeat: asyncio.Task[None] | None = None
        # Flow control (see WINDOW): `sent` counts characters of frames sent, `acked` is `sent` as of the
        # newest ping the page answered, `pinged` as of the newest ping; `unanswered` maps nonce -> `sent`.
        self.window = max(WINDOW, 0)
        self.sent = self.acked = self.pinged = 0
        self.nonce = 0
        self.unanswered: dict[int, int] = {}
        self.acked_event = asyncio.Event()
        self.last_pong = asyncio.get_running_loop().time()
        # Market frames and pings go straight to the server when the stack exposes its send (ExposeServerSend).
        self.send_direct = self.scope.get(SERVER_SEND_KEY) or self.base_send
        if await self._refusing():
            # Draining for maintenance: "try again later" — the browser polls and retries with backoff.
            await self.close(code=TRY_AGAIN_LATER)
            return
        if not await self._claim_socket_slot(user):
            # Accepted, told why (daphne drops a close frame's reason), then closed: a refused handshake says nothing.
            await self.accept()
            await self.send(
                text_data=error_fragment(
                    f"Too many open pages (at most {MAX_SOCKETS_PER_USER} per user): this page updates by polling. "
                    "Close other kalshiweb tabs and reload it to go live again."
                )
            )
            await self.close(code=TOO_MANY_SOCKETS, reason="too many open pages")
            return
        await get_hub().attach(self)
        # The trader's own order and fill updates (low rate: the channel layer is fine here).
        self.user_group = f"user.{user.pk}"
        if self.channel_layer is not None:
            try:
                await self.channel_layer.group_add(self.user_group, self.channel_name)
            except aioredis.RedisError as exc:
                # Without the group the trader would silently miss order and fill pushes: "try again later"
                # instead (the page polls, then reconnects). disconnect() still detaches from the hub.
                log.warning("refusing a browser socket: channel layer unavailable (%s)", exc)
                self.user_group = ""
                await self.close(code=TRY_AGAIN_LATER)
                return
        requested = [t for t in ",".join(query.get("tickers", [])).split(",") if t]
        good, problems = await self._admit(requested)
        # Register interest before accepting and before the snapshot: no update falls in between.
        if good:
            self.tickers.update(good)
            await get_hub().watch(self, good)
        await self.accept()
        metrics.socket_opened(self)
        self.sender = asyncio.create_task(self._send_loop())
        self.last_pong = asyncio.get_running_loop().time()
        if PING_SECONDS > 0:
            self.heartbeat = asyncio.create_task(self._heartbeat())
        for problem in problems:
            await self.send(text_data=error_fragment(problem))
        await self._send_snapshot(good)

    async def _claim_socket_slot(self, user: Any) -> bool:
        """Register this socket in the user's set (Redis, shared by every web process: markets.presence) and
        count it against the user's limit. An entry expires unless its socket's heartbeat refreshes it, so a
        crashed process's sockets stop counting."""
        self.socket_member = ""
        key = presence.sockets_key(user.pk)
        member = presence.member(self.view, self.channel_name or f"sock-{id(self)}")
        for attempt in range(SLOT_ATTEMPTS):
            now = time.time()
            try:
                pipe = get_hub().redis().pipeline(transaction=True)
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.zadd(key, {member: now + SOCKET_TTL})
                pipe.zcard(key)
                pipe.expire(key, int(SOCKET_TTL) + 60)
                _, _, count, _ = await pipe.execute()
            except aioredis.RedisError as exc:
                log.warning("cannot count browser sockets (%s): allowing this one", exc)
                return True
            if MAX_SOCKETS_PER_USER <= 0 or int(count) <= MAX_SOCKETS_PER_USER:
                self.socket_member = member
                return True
            with contextlib.suppress(aioredis.RedisError):
                await get_hub().redis().zrem(key, member)
            if attempt + 1 < SLOT_ATTEMPTS:
                # A page that navigates closes its old socket as it opens the new one: the old one's release
                # may still be on its way. Ask again shortly before refusing.
                await asyncio.sleep(SLOT_RETRY_SECONDS)
        log.info("refusing a browser socket: user %s already holds %d", user.pk, MAX_SOCKETS_PER_USER)
        return False

    async def _refresh_socket_slot(self) -> None:
        user = self.scope.get("user")
        if getattr(self, "socket_member", "") and user is not None:
            with contextlib.suppress(aioredis.RedisError):
                await (
                    get_hub()
                    .redis()
                    .zadd(presence.sockets_key(user.pk), {self.socket_member: time.time() + SOCKET_TTL})
                )

    async def _release_socket_slot(self) -> None:
        user = self.scope.get("user")
        if getattr(self, "socket_member", "") and user is not None:
            with contextlib.suppress(aioredis.RedisError):
                await get_hub().redis().zrem(presence.sockets_key(user.pk), self.socket_member)
            self.socket_member = ""

    async def _refusing(self) -> bool:
        try:
            until = await get_hub().redis().get(REFUSE_KEY)
        except aioredis.RedisError:
            return False
        try:
            return until is not None and float(until) > time.time()
        except ValueError:
            return False

    def close_soon(self, code: int) -> None:
        asyncio.get_running_loop().create_task(self.close(code=code))

    async def user_update(self, event: dict[str, Any]) -> None:
        # Order and fill pushes bypass the flow-control window on purpose: they are a trader's own, a few
        # a minute, each is a notification that must not wait behind market data, and they cannot be
        # conflated (latest-wins would drop a fill toast). A stalled page can therefore be owed at most
        # PONG_TIMEOUT seconds of them before it is closed, and the page re-reads its orders and fills
        # from the database on reconnect (kw:resync in live.js). They still count as sent, so they
        # shrink the room left for market frames.
        html = event.get("html")
        views, ticker = event.get("views"), event.get("ticker")
        if (views and self.view not in views) or (ticker and ticker not in self.tickers):
            return  # this page has no target for it (issue #12 item 19)
        if isinstance(html, str):
            await self.send(text_data=html)
            self.sent += len(html)

    async def disconnect(self, code: int) -> None:
        metrics.socket_closed(self)
        await self._release_socket_slot()
        if getattr(self, "user_group", None) and self.channel_layer is not None:
            try:
                await self.channel_layer.group_discard(self.user_group, self.channel_name)
            except aioredis.RedisError as exc:
                # Not fatal (channels-redis expires the membership): the hub clean-up below must still run,
                # or the hub would keep offering updates to a closed socket.
                log.warning("could not leave %s: %s", self.user_group, exc)
        for task in (getattr(self, "sender", None), getattr(self, "heartbeat", None)):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:  # it had already failed (the socket went away under it): nothing to undo
                    log.debug("browser socket task failed", exc_info=True)
        if getattr(self, "tickers", None) is not None:
            hub = get_hub()
            hub.detach(self)
            if self.tickers:
                await hub.unwatch(self, list(self.tickers))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Commands from the page: {"action": "watch"|"unwatch", "tickers": [...]}. Bad input → error frame."""
        if bytes_data is not None or len(text_data or "") > MAX_COMMAND_CHARS:
            await self.send(text_data=error_fragment("Ignored a message: too large (or binary)."))
            return
        try:
            message = json.loads(text_data or "")
        except (ValueError, RecursionError):
            await self.send(text_data=error_fragment("Ignored a malformed message (not JSON)."))
            return
        if not isinstance(message, dict):
            await self.send(text_data=error_fragment("Ignored a malformed message (expected an object)."))
            return
        action = message.get("action")
        if action == "pong":
            self._pong(message.get("n"))
            return
        tickers = message.get("tickers")
        if isinstance(tickers, str):
            tickers = [t for t in tickers.split(",") if t]
        if action not in {"watch", "unwatch"} or not isinstance(tickers, list):
            await self.send(
                text_data=error_fragment("Unknown command: send action watch/unwatch with tickers.")
            )
            return
        if action == "watch":
            await self.watch([str(t) for t in tickers])
        else:
            drop = [t for t in map(str, tickers) if t in self.tickers]
            self.tickers.difference_update(drop)
            for key in [k for k in self.pending if k.split("#", 1)[0] in drop]:
                del self.pending[key]
            await get_hub().unwatch(self, drop)

    async def _admit(self, tickers: list[str]) -> tuple[list[str], list[str]]:
        """Split requested tickers into the ones to watch and the error messages for the rest: only
        well-formed tickers of markets we know and that are open, at most MAX_MARKETS per page."""
        problems = []
        bad = [t for t in tickers if not TICKER_RE.match(t)]
        good = [t for t in dict.fromkeys(tickers) if TICKER_RE.match(t) and t not in self.tickers]
        if bad:
            problems.append(f"Ignored {len(bad)} invalid ticker(s).")
        room = max(MAX_MARKETS - len(self.tickers), 0)
        if len(good) > room:
            problems.append(f"A page may watch at most {MAX_MARKETS} markets; ignored {len(good) - room}.")
            good = good[:room]
        if good:
            try:
                known = await open_markets.filter(good)
            except Exception as exc:  # no database: watch nothing rather than everything
                log.warning("cannot check markets for a browser socket: %s", exc)
                known = set()
            shut = [t for t in good if t not in known]
            if shut:
                names = ", ".join(shut[:3]) + (" …" if len(shut) > 3 else "")
                problems.append(f"Not live: {len(shut)} market(s) unknown or not open ({names}).")
                good = [t for t in good if t in known]
        return good, problems

    async def watch(self, tickers: list[str]) -> None:
        good, problems = await self._admit(tickers)
        for problem in problems:
            await self.send(text_data=error_fragment(problem))
        if not good:
            return
        # Subscribe before reading the snapshot, so no update can fall between the two.
        self.tickers.update(good)
        await get_hub().watch(self, good)
        await self._send_snapshot(good)

    async def _send_snapshot(self, tickers: list[str]) -> None:
        if not tickers:
            return
        try:
            raw = await get_hub().redis().mget([f"kw:frag:{t}" for t in tickers])
        except aioredis.RedisError as exc:
            log.warning("no snapshot for browser: %s", exc)
            return
        for ticker, payload in zip(tickers, raw, strict=True):
            if payload is None:
                continue
            update = open_frame(ticker, payload)  # only what the feed signed
            if update is not None and ticker not in self.pending:
                self.offer(ticker, update)

    def offer(self, ticker: str, update: dict[str, Any]) -> None:
        """Called by the Hub for every update; keeps only the newest per market, and per slot: a rare frame
        that names a `slot` (a status change, a fee change) is kept beside the market's quotes, so a quote
        that follows it cannot replace it before it is sent."""
        html = QUOTE_PROMPT if self.view == "portfolio" else update.get(self.view)
        if not isinstance(html, str):
            return
        slot = update.get("slot")
        self.pending[f"{ticker}#{slot}" if isinstance(slot, str) and slot else ticker] = html
        self.wakeup.set()

    async def _ping(self) -> None:
        """Send a ping; its answer acknowledges every frame sent before it."""
        self.nonce += 1
        self.unanswered[self.nonce] = self.pinged = self.sent
        if len(self.unanswered) > MAX_UNANSWERED:
            del self.unanswered[next(iter(self.unanswered))]
        await self.send_direct({"type": "websocket.send", "text": ping_frame(self.nonce)})

    def _pong(self, nonce: object) -> None:
        """The page answered ping `nonce` (anything else is ignored): it has read all sent before it."""
        if type(nonce) is not int or nonce not in self.unanswered:
            return
        self.last_pong = asyncio.get_running_loop().time()
        self.acked = max(self.acked, self.unanswered[nonce])
        for n in [n for n in self.unanswered if n <= nonce]:
            del self.unanswered[n]
        self.acked_event.set()

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(PING_SECONDS)
            if PONG_TIMEOUT > 0 and loop.time() - self.last_pong > PONG_TIMEOUT:
                log.info("closing a browser socket that stopped answering pings")
                with contextlib.suppress(Exception):  # already closing: disconnect() cleans up either way
                    await self.close(code=TRY_AGAIN_LATER)
                return
            with contextlib.suppress(Exception):
                await self._ping()
            await self._refresh_socket_slot()

    async def _send_loop(self) -> None:
        """Send each market's latest update as soon as that market's token bucket allows it: `rate` updates
        per market per second on average, with a burst of BURST. Markets that are due go out together in
        one frame; a throttled market keeps only its newest state until it is allowed again. While WINDOW
        characters are unacknowledged nothing is sent and `pending` keeps the newest state of each market."""
        rate = self.max_updates_per_second
        loop = asyncio.get_running_loop()
        buckets: dict[str, tuple[float, float]] = {}
        window = self.window
        ping_every = window // 2
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.pending:
                if window and self.sent - self.acked >= window:
                    # The page has not read the last window: wait for its answer (pinging now if no ping is
                    # out), then send whatever is newest. The heartbeat closes it if it never answers.
                    self.acked_event.clear()
                    if not self.unanswered:
                        try:
                            await self._ping()
                        except Exception:
                            log.debug("ping to browser failed", exc_info=True)
                            return
                    if self.sent - self.acked >= window:
                        await self.acked_event.wait()
                    continue
                now = loop.time()
                due: list[str] = []
                next_at: float | None = None
                for ticker in list(self.pending):
                    tokens, last = buckets.get(ticker, (BURST, now))
                    tokens = min(BURST, tokens + (now - last) * rate)
                    if tokens >= 1:
                        due.append(ticker)
                        buckets[ticker] = (tokens - 1, now)
                    else:
                        buckets[ticker] = (tokens, now)
                        at = now + (1 - tokens) / rate
                        next_at = at if next_at is None else min(next_at, at)
                if due:
                    frame = (
                        self.pending.pop(due[0])
                        if len(due) == 1
                        else "".join([self.pending.pop(t) for t in due])
                    )
                    try:
                        await self.send_direct({"type": "websocket.send", "text": frame})
                        self.sent += len(frame)
                        if window and self.sent - self.pinged >= ping_every:
                            await self._ping()
                    except Exception:  # the socket is gone; disconnect() cleans up
                        log.debug("send to browser failed", exc_info=True)
                        return
                    continue
                # Only throttled markets are pending: wait for the first to be allowed, or for new updates.
                timeout = max(0.0, (next_at or now) - loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout)
                self.wakeup.clear()
            if len(buckets) > len(self.tickers):  # forget unwatched markets (at most MAX_MARKETS linger)
                for ticker in [t for t in buckets if t not in self.tickers]:
                    del buckets[ticker]
