"""One authenticated WebSocket connection multiplexing many channels and markets (protocol §7).

    stream = KalshiStream(ws_url, signer=signer, silence_timeout=30)
    await stream.start()
    books = await stream.subscribe(["orderbook_delta"], ["FED-23DEC-T3.00"])
    await stream.add_markets(books, ["CPI-22DEC-TN0.1"])       # update_subscription, no reconnect
    async for item in stream:                                   # typed messages and StreamEvents
        ...
    stream.books["FED-23DEC-T3.00"].best_yes_ask

What it takes care of:

* Reconnects forever (exponential backoff with full jitter, capped; the backoff resets after a connection
  stayed up ``healthy_after`` seconds), re-signing the handshake each time and restoring every subscription.
  Subscription handles are stable; the server's sids change and are re-mapped.
* Sequence numbers per sid: on a gap the affected books are marked stale, fresh snapshots are requested
  (``update_subscription`` / ``get_snapshot``; resubscribe if that fails) and a ``SequenceGap`` is delivered.
  No delta is ever applied across a gap.
* A silence watchdog (while a ``watchdog=True`` subscription is active): no frame at all from the exchange —
  no data, no reply, not even its pings — for ``silence_timeout`` seconds means a dead connection: reconnect.
  A quiet channel is not judged: a quiet market sends no trades or deltas for minutes.
* Error frames become ``WebSocketError``; codes 10 and 25 resubscribe the affected subscription.
* Markets the exchange refuses (error 11, e.g. no such market) are dropped from the subscription, which goes
  on with the rest; ``add_markets`` returns them and a ``MarketsRejected`` event reports them (also when a
  restore after a reconnect finds a market gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.frames import Opcode

from .auth import KalshiSigner
from .book import OrderBook
from .errors import WS_RETRYABLE_CODES, KalshiError, ProtocolError, Unauthorized, WebSocketError
from .messages import (
    SEQUENCED_TYPES,
    ErrorMessage,
    Message,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    Subscribed,
    SubscriptionInfo,
    Unsubscribed,
    decode_message,
)
from .rest import make_signer
from .stream_events import (
    Connected,
    Disconnected,
    MarketsRejected,
    MessageRate,
    SequenceGap,
    StreamError,
    StreamEvent,
    StreamHealth,
    SubscriptionsRestored,
)
from .subscriptions import MARKET_FILTERED, MOVING_CHANNELS, ChannelSub, PendingCommand, Subscription

log = logging.getLogger(__name__)
# websockets logs the handshake (with our signed headers) and every frame at DEBUG: give it a logger that
# never goes below INFO, so a replayable signature cannot end up in a log file.
_ws_log = logging.getLogger(__name__ + ".websockets")
_ws_log.setLevel(logging.INFO)


class ConnectionLost(KalshiError):
    default_retryable = True


class _PingTrackingConnection(ClientConnection):
    """Records when the server's keep-alive pings arrive (the watchdog wants to know the socket is alive)."""

    last_ping: float | None = None

    def process_event(self, event: Any) -> None:
        super().process_event(event)
        if getattr(event, "opcode", None) is Opcode.PING:
            self.last_ping = time.monotonic()


class KalshiStream:
    def __init__(
        self,
        ws_url: str,
        *,
        signer: KalshiSigner | None = None,
        key_id: str | None = None,
        private_key: str | bytes | Path | None = None,
        maintain_books: bool = True,
        backoff_initial: float = 0.5,
        backoff_cap: float = 30.0,
        healthy_after: float = 60.0,
        silence_timeout: float | None = None,
        command_timeout: float = 10.0,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        queue_size: int = 100_000,
        on_message: Callable[[Message | StreamEvent], None] | None = None,
    ) -> None:
        self.ws_url = ws_url
        self._signer = make_signer(key_id, private_key, signer)
        self.maintain_books = maintain_books
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.healthy_after = healthy_after
        self.silence_timeout = silence_timeout
        self.command_timeout = command_timeout
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.on_message = on_message
        self.books: dict[str, OrderBook] = {}

        self._queue: asyncio.Queue[Message | StreamEvent] = asyncio.Queue(maxsize=queue_size)
        self._handles: dict[int, Subscription] = {}
        self._by_sid: dict[int, list[ChannelSub]] = {}
        self._last_seq: dict[int, int] = {}
        self._pending: dict[int, PendingCommand] = {}
        self._ids = itertools.count(1)
        self._ws: _PingTrackingConnection | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._last_by_channel: dict[str, float] = {}
        self._last_frame = 0.0
        self._rate = MessageRate()
        self.reconnect_count = 0
        self.gap_count = 0
        self.dropped = 0
        self._connections = 0

    def __repr__(self) -> str:
        key = self._signer.key_id if self._signer else None
        return f"KalshiStream(ws_url={self.ws_url!r}, key_id={key!r}, connected={self.connected})"

    # --- lifecycle ------------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self, *, wait: bool = True, timeout_s: float | None = None) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="kalshi-stream")
        if wait:
            await self.wait_connected(timeout_s if timeout_s is not None else self.open_timeout + 5)

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def recycle(self, reason: str) -> None:
        """Drop the current connection (the stream reconnects, with its backoff, and restores every
        subscription): for a connection left in a state no command can repair, e.g. a subscription the exchange
        did not take."""
        ws = self._ws
        if ws is not None:
            log.warning("kalshi stream: reconnecting: %s", reason)
            with contextlib.suppress(Exception):
                await ws.close()

    async def subscribe_or_recycle(
        self, channels: Sequence[str] | str, tickers: Iterable[str] | str | None = None, **params: Any
    ) -> Subscription | None:
        """`subscribe`, for a caller that subscribes on `Connected`: when the exchange refuses or does not answer,
        the connection is dropped (`recycle`) and None returned, so the next `Connected` tries again. Connected
        but not subscribed, the caller would hear nothing, with nothing to say so."""
        try:
            return await self.subscribe(channels, tickers, **params)
        except KalshiError as exc:
            await self.recycle(f"could not subscribe to {channels} ({exc})")
            return None

    async def close(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for t in list(self._side_tasks):
            t.cancel()
        self._connected.clear()

    async def __aenter__(self) -> KalshiStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Message | StreamEvent]:
        return self

    async def __anext__(self) -> Message | StreamEvent:
        return await self._queue.get()

    async def next(self, timeout_s: float | None = None) -> Message | StreamEvent:
        return await asyncio.wait_for(self._queue.get(), timeout_s)

    def health(self) -> StreamHealth:
        now = time.monotonic()
        ws = self._ws
        last_ping = ws.last_ping if ws is not None else None
        channels = {c for h in self._handles.values() for c in h.channels}
        return StreamHealth(
            connected=self.connected,
            reconnect_count=self.reconnect_count,
            gap_count=self.gap_count,
            messages_per_second=self._rate.rate(now),
            last_message_age={
                c: (now - self._last_by_channel[c]) if c in self._last_by_channel else None
                for c in sorted(channels)
            },
            last_ping_age=None if last_ping is None else now - last_ping,
            subscriptions=len(self._handles),
            stale_books=sum(1 for b in self.books.values() if b.stale),
            dropped=self.dropped,
        )

    # --- public commands ------------------------------------------------------------------------------------

    async def subscribe(
        self,
        channels: Sequence[str] | str,
        tickers: Iterable[str] | str | None = None,
        *,
        watchdog: bool | None = None,
        **params: Any,
    ) -> Subscription:
        """Subscribe ``channels`` (for ``tickers``, or all markets when None). Extra ``params`` go into the
        command (``use_yes_price``, ``send_initial_snapshot``...). Returns a stable handle."""
        if isinstance(channels, str):
            channels = [channels]
        if isinstance(tickers, str):
            tickers = [tickers]
        if watchdog is None:
            watchdog = self.silence_timeout is not None and any(c in MOVING_CHANNELS for c in channels)
        handle = Subscription(channels, tickers, params, watchdog)
        self._handles[handle.id] = handle
        try:
            await self._activate(handle)
        except BaseException:
            self._handles.pop(handle.id, None)
            self._forget(handle)
            raise
        return handle

    async def add_markets(self, handle: Subscription, tickers: Iterable[str]) -> list[str]:
        """Add markets to a subscription. A market joins ``handle.tickers`` once the exchange has accepted it;
        the ones it refuses (error 11: no such market) are left out, the rest go on. Returns the refused.
        While disconnected the markets are only recorded: the restore after the reconnect adds them, with
        the same rule."""
        if handle.tickers is None:
            raise ValueError("this subscription covers all markets already")
        new = [t for t in dict.fromkeys(tickers) if t not in handle.tickers]
        if not new:
            return []
        if not self.connected or not handle.active.is_set():
            handle.tickers.update(new)
            return []
        if not handle.tickers and all(cs.sid is None for cs in handle.channel_subs.values()):
            # Every market it had was refused, so nothing is subscribed upstream: subscribe anew.
            handle.tickers.update(new)
            handle.active.clear()
            await self._send_subscribe(handle)
            return sorted(handle.rejected.intersection(new))
        return await self._add_checked(handle, new)

    async def delete_markets(self, handle: Subscription, tickers: Iterable[str]) -> None:
        tickers = list(tickers)
        if handle.tickers is None:
            raise ValueError("this subscription covers all markets; unsubscribe instead")
        handle.tickers.difference_update(tickers)
        await self._update(handle, "delete_markets", tickers)
        for t in tickers:
            if not self._book_wanted(t):
                self.books.pop(t, None)

    async def unsubscribe(self, handle: Subscription) -> None:
        handle.closed = True
        self._handles.pop(handle.id, None)
        sids = [cs.sid for cs in handle.channel_subs.values() if cs.sid is not None]
        shared = [sid for sid in sids if any(o.handle is not handle for o in self._by_sid.get(sid, []))]
        self._forget(handle)
        if self.connected:
            own = [sid for sid in sids if sid not in shared]
            if own:
                await self._command("unsubscribe", {"sids": own}, expect=len(own))
            for sid in shared:  # another handle shares this sid: only remove the markets it no longer needs
                remaining = self._tickers_for_sid(sid)
                extra = (handle.tickers or set()) - (remaining or set())
                if extra and remaining is not None:
                    await self._command(
                        "update_subscription",
                        {"sids": [sid], "action": "delete_markets", "market_tickers": sorted(extra)},
                    )
        for t in handle.tickers or ():
            if not self._book_wanted(t):
                self.books.pop(t, None)

    async def get_snapshot(self, handle: Subscription, tickers: Iterable[str] | None = None) -> None:
        """Ask for fresh ``orderbook_snapshot``s (they arrive on the stream and refresh ``books``)."""
        cs = handle.channel_subs.get("orderbook_delta")
        if cs is None or cs.sid is None:
            raise ValueError("get_snapshot needs an active orderbook_delta subscription")
        wanted = sorted(tickers if tickers is not None else handle.tickers or ())
        await self._request_snapshot(cs.sid, wanted)

    async def list_subscriptions(self) -> tuple[SubscriptionInfo, ...]:
        replies = await self._command("list_subscriptions", None)
        ok = replies[0]
        return ok.subscriptions or ()

    # --- internals: commands --------------------------------------------------------------------------------

    async def _command(
        self,
        cmd: str,
        params: dict[str, Any] | None,
        *,
        expect: int = 1,
        subs: Sequence[ChannelSub] = (),
    ) -> list[Any]:
        ws = self._ws
        if ws is None or not self.connected:
            raise ConnectionLost("not connected")
        cid = next(self._ids)
        pending = PendingCommand(cmd, expect, subs)
        self._pending[cid] = pending
        frame: dict[str, Any] = {"id": cid, "cmd": cmd}
        if params is not None:
            frame["params"] = params
        try:
            await ws.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            self._pending.pop(cid, None)
            raise ConnectionLost("connection closed while sending a command") from None
        try:
            return await asyncio.wait_for(pending.future, self.command_timeout)
        except TimeoutError:
            raise WebSocketError(18, f"no reply to {cmd} within {self.command_timeout}s") from None
        finally:
            self._pending.pop(cid, None)

    async def _activate(self, handle: Subscription) -> None:
        """Subscribe now if connected; otherwise (or if the connection drops meanwhile) the restore after the
        next connect does it. Returns once the handle is active."""
        while not handle.active.is_set():
            if self._task is None:
                raise ConnectionLost("the stream is not started")
            if self.connected and not handle.inflight:
                try:
                    await self._send_subscribe(handle)
                    return
                except ConnectionLost:
                    pass
            waiter = asyncio.ensure_future(handle.active.wait())
            connected = asyncio.ensure_future(self._connected.wait())
            try:
                await asyncio.wait({waiter, connected}, return_when=asyncio.FIRST_COMPLETED)
                if not handle.active.is_set():
                    await asyncio.sleep(0.01)
            finally:
                waiter.cancel()
                connected.cancel()

    async def _send_subscribe(self, handle: Subscription) -> None:
        """Subscribe the handle. Markets the exchange refuses (error 11) are dropped and the rest subscribed:
        by name when the error names one (``msg.market_ticker``), else one market first and the others added
        after it, each refused one found by halving."""
        while True:
            try:
                await self._subscribe_once(handle)
                return
            except WebSocketError as exc:
                if exc.ws_code != 11 or not handle.tickers:
                    raise
                named = handle.tickers.intersection(exc.market_tickers)
                if named or len(handle.tickers) == 1:
                    self._reject(handle, named or set(handle.tickers), exc)
                    if not handle.tickers:
                        handle.active.set()  # nothing left to subscribe: a later add_markets subscribes
                        return
                    continue
                first, rest = min(handle.tickers), sorted(handle.tickers - {min(handle.tickers)})
                handle.tickers = {first}
                await self._send_subscribe(handle)
                if handle.tickers:
                    await self._add_checked(handle, rest)
                    return
                handle.tickers = set(rest)

    async def _subscribe_once(self, handle: Subscription) -> None:
        subs = list(handle.channel_subs.values())
        handle.inflight = True
        try:
            await self._command("subscribe", handle.command_params(), expect=len(subs), subs=subs)
        finally:
            handle.inflight = False
        for cs in subs:
            cs.last_data = time.monotonic()
        handle.active.set()

    async def _add_checked(self, handle: Subscription, tickers: list[str]) -> list[str]:
        """add_markets on every sid of the handle; refused markets (error 11) are left out (see add_markets)."""
        assert handle.tickers is not None
        rejected: set[str] = set()

        async def attempt(batch: list[str]) -> None:
            try:
                await self._update(handle, "add_markets", batch)
            except WebSocketError as exc:
                if exc.ws_code != 11:
                    raise
                named = [t for t in batch if t in exc.market_tickers]
                if named:
                    rejected.update(named)
                    rest = [t for t in batch if t not in named]
                    if rest:
                        await attempt(rest)
                elif len(batch) == 1:
                    rejected.update(batch)
                else:
                    half = len(batch) // 2
                    await attempt(batch[:half])
                    await attempt(batch[half:])
                return
            assert handle.tickers is not None
            handle.tickers.update(batch)

        await attempt(tickers)
        if rejected:
            self._reject(handle, rejected, WebSocketError(11, "refused by the exchange"))
        return sorted(rejected)

    def _reject(self, handle: Subscription, tickers: set[str], exc: KalshiError) -> None:
        if handle.tickers is not None:
            handle.tickers.difference_update(tickers)
        handle.rejected.update(tickers)
        for t in tickers:
            if not self._book_wanted(t):
                self.books.pop(t, None)
        log.warning(
            "kalshi stream: the exchange refused %s (%s); subscribed without them", sorted(tickers), exc
        )
        self._emit(MarketsRejected(handle.id, tuple(sorted(tickers)), str(exc)))

    async def _update(self, handle: Subscription, action: str, tickers: list[str]) -> None:
        if not self.connected or not tickers:
            return  # the restore after reconnect uses handle.tickers
        for cs in handle.channel_subs.values():
            if cs.sid is None or cs.channel not in MARKET_FILTERED:
                continue
            wanted = tickers
            if action == "delete_markets":
                # Another handle may share this sid (Kalshi merges same-channel subscribes): keep its markets.
                needed = self._tickers_for_sid(cs.sid)
                if needed is None:
                    continue
                wanted = [t for t in tickers if t not in needed]
                if not wanted:
                    continue
            try:
                await self._command(
                    "update_subscription", {"sids": [cs.sid], "action": action, "market_tickers": wanted}
                )
            except ConnectionLost:
                return

    async def _request_snapshot(self, sid: int, tickers: list[str]) -> None:
        if not tickers:
            return
        ws = self._ws
        if ws is None:
            return  # the reconnect resubscribes, which brings fresh snapshots
        cid = next(self._ids)
        # Snapshots are the reply (they carry the id); only an error frame completes this entry.
        pending = PendingCommand("get_snapshot", 1_000_000)
        pending.future.add_done_callback(lambda fut: self._snapshot_failed(sid, fut))
        self._pending[cid] = pending
        frame = {
            "id": cid,
            "cmd": "update_subscription",
            "params": {"sids": [sid], "action": "get_snapshot", "market_tickers": tickers},
        }
        try:
            await ws.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            self._pending.pop(cid, None)
            return
        asyncio.get_running_loop().call_later(self.command_timeout, self._pending.pop, cid, None)

    def _snapshot_failed(self, sid: int, fut: asyncio.Future[list[Any]]) -> None:
        if fut.cancelled() or fut.exception() is None or isinstance(fut.exception(), ConnectionLost):
            return  # a lost connection is handled by the reconnect, which resubscribes everything
        log.warning("get_snapshot on sid %s failed (%s); resubscribing", sid, fut.exception())
        self._spawn(self._resubscribe_sid(sid))

    async def _resubscribe_sid(self, sid: int) -> None:
        handles = {cs.handle for cs in self._by_sid.get(sid, [])}
        for handle in handles:
            await self._resubscribe(handle)

    async def _resubscribe(self, handle: Subscription) -> None:
        if handle.closed or not self.connected:
            return
        old = [cs.sid for cs in handle.channel_subs.values() if cs.sid is not None]
        for t in handle.tickers or ():
            if t in self.books:
                self.books[t].mark_stale("resubscribing")
        self._forget(handle)
        handle.active.clear()
        for sid in old:
            with contextlib.suppress(KalshiError):
                await self._command("unsubscribe", {"sids": [sid]})
        try:
            await self._send_subscribe(handle)
        except KalshiError as exc:
            self._emit(StreamError(exc))

    def _forget(self, handle: Subscription) -> None:
        for cs in handle.channel_subs.values():
            if cs.sid is not None:
                lst = self._by_sid.get(cs.sid, [])
                if cs in lst:
                    lst.remove(cs)
                if not lst:
                    self._by_sid.pop(cs.sid, None)
                    self._last_seq.pop(cs.sid, None)
            cs.sid = None

    def _tickers_for_sid(self, sid: int) -> set[str] | None:
        out: set[str] = set()
        for cs in self._by_sid.get(sid, []):
            if cs.handle.tickers is None:
                return None
            out |= cs.handle.tickers
        return out

    def _book_wanted(self, ticker: str) -> bool:
        for h in self._handles.values():
            if "orderbook_delta" in h.channels and h.tickers is not None and ticker in h.tickers:
                return True
        return False

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._side_tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._side_tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                if not isinstance(exc, ConnectionLost):
                    log.warning("kalshi stream background task failed: %r", exc)

        task.add_done_callback(done)

    # --- internals: connection loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while not self._closing:
            started = loop.time()
            reason = "closed"
            try:
                reason = await self._connect_once()
            except asyncio.CancelledError:
                raise
            except websockets.InvalidStatus as exc:
                status = exc.response.status_code
                reason = f"handshake rejected with HTTP {status}"
                err: KalshiError = (
                    Unauthorized(reason, http_status=status) if status in (401, 403) else KalshiError(reason)
                )
                self._emit(StreamError(err))
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # never let the loop die
                log.exception("kalshi stream connection failed")
                reason = f"{type(exc).__name__}: {exc}"
            if self._closing:
                break
            if loop.time() - started >= self.healthy_after:
                attempt = 0
            # The exponent stops growing once the cap is reached: a connection that kept failing fast (over a
            # thousand short connections in a row) made 2**attempt too large for a float, and the
            # OverflowError ended this loop for good — the stream never connected again.
            delay = random.uniform(0, min(self.backoff_cap, self.backoff_initial * (2 ** min(attempt, 30))))
            attempt += 1
            log.info("kalshi stream disconnected (%s); reconnecting in %.2fs", reason, delay)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> str:
        headers = self._signer.ws_headers(self.ws_url) if self._signer is not None else {}
        async with websockets.connect(
            self.ws_url,
            additional_headers=headers,
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=2,
            max_size=2**24,
            max_queue=None,
            create_connection=_PingTrackingConnection,
            logger=_ws_log,
        ) as ws:
            assert isinstance(ws, _PingTrackingConnection)
            self._ws = ws
            self._by_sid.clear()
            self._last_seq.clear()
            for handle in self._handles.values():
                for cs in handle.channel_subs.values():
                    cs.sid = None
                handle.active.clear()
            for book in self.books.values():
                book.mark_stale("reconnecting")
            if self._connections:
                self.reconnect_count += 1
            self._connections += 1
            self._connected.set()
            self._emit(Connected(self.reconnect_count))
            # Handles registered from now on are subscribed by subscribe() itself; these by the restore.
            to_restore = list(self._handles.values())
            reader = asyncio.create_task(self._reader(ws))
            watchdog = asyncio.create_task(self._watchdog())
            restore = asyncio.create_task(self._restore_all(to_restore))
            reason = "connection closed"
            try:
                done, _ = await asyncio.wait({reader, watchdog}, return_when=asyncio.FIRST_COMPLETED)
                if watchdog in done and not watchdog.cancelled():
                    reason = watchdog.result()
                elif reader in done and not reader.cancelled():
                    reason = reader.result()
            finally:
                self._connected.clear()
                for t in (reader, watchdog, restore):
                    t.cancel()
                for t in (reader, watchdog, restore):
                    with contextlib.suppress(BaseException):
                        await t
                for pending in self._pending.values():
                    pending.fail(ConnectionLost("connection lost"))
                self._pending.clear()
                self._ws = None
                self._emit(Disconnected(reason))
            return reason

    async def _restore_all(self, handles: list[Subscription]) -> None:
        restored = 0
        for handle in handles:
            if handle.closed or handle.active.is_set() or handle.inflight:
                continue
            try:
                await self._send_subscribe(handle)
                restored += 1
            except ConnectionLost:
                return
            except KalshiError as exc:
                log.warning("could not restore %r: %s", handle, exc)
                self._emit(StreamError(exc))
                if isinstance(exc, WebSocketError) and exc.ws_code in WS_RETRYABLE_CODES:
                    # No reply in time, or the exchange's internal error: left like this, the handle would stay
                    # unsubscribed on a live connection, receiving nothing, with nothing to say so (the private
                    # channels have no silence watchdog). A fresh connection restores everything again.
                    await self.recycle(f"could not restore a subscription ({exc})")
                    return
        if handles:
            self._emit(SubscriptionsRestored(restored))

    async def _reader(self, ws: _PingTrackingConnection) -> str:
        try:
            async for raw in ws:
                self._on_frame(raw)
        except websockets.ConnectionClosed as exc:
            return f"connection closed ({exc})"
        return "connection closed by the server"

    async def _watchdog(self) -> str:
        timeout = self.silence_timeout
        if timeout is None:
            await asyncio.Event().wait()
            return "unreachable"
        step = max(0.01, min(1.0, timeout / 4))
        # The connection is judged, not each channel: a quiet market sends no trades or deltas for minutes,
        # which is normal. What is not: no frame at all, not even the server's pings, for `timeout`.
        started = time.monotonic()
        while True:
            await asyncio.sleep(step)
            if not any(h.watchdog and h.active.is_set() for h in self._handles.values()):
                continue
            now = time.monotonic()
            ws = self._ws
            heard = max(started, self._last_frame, (ws.last_ping if ws is not None else None) or 0.0)
            if now - heard > timeout:
                return f"nothing from the exchange (no data, no pings) for {now - heard:.1f}s"

    # --- internals: frames ----------------------------------------------------------------------------------

    def _emit(self, item: Message | StreamEvent) -> None:
        if self.on_message is not None:
            try:
                self.on_message(item)
            except Exception:
                log.exception("kalshi stream on_message callback failed")
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    def _on_frame(self, raw: str | bytes) -> None:
        now = time.monotonic()
        self._last_frame = now
        self._rate.hit(now)
        try:
            msg = decode_message(raw)
        except ProtocolError as exc:
            self._emit(StreamError(exc))
            try:
                data = json.loads(raw)
            except ValueError:
                return
            # A book message we cannot read is a lost book message: resynchronise that subscription.
            sid = data.get("sid") if isinstance(data, dict) else None
            if isinstance(sid, int) and data.get("type") in ("orderbook_snapshot", "orderbook_delta"):
                self._resync(sid, "unreadable book message")
            return
        if isinstance(msg, (Subscribed, Ok, Unsubscribed)):
            self._on_reply(msg)
            return
        if isinstance(msg, ErrorMessage):
            self._on_error(msg)
            return
        sid = getattr(msg, "sid", None)
        subs = self._by_sid.get(sid, ()) if sid is not None else ()
        for cs in subs:
            cs.last_data = now
        channel = subs[0].channel if subs else msg.type
        self._last_by_channel[channel] = now
        seq = getattr(msg, "seq", None)
        if sid is not None and seq is not None and msg.type in SEQUENCED_TYPES:
            last = self._last_seq.get(sid)
            self._last_seq[sid] = seq
            if last is not None and seq != last + 1:
                # Also on a snapshot: the numbers it skipped may have been deltas for other markets of the sid.
                self._on_gap(sid, channel, last + 1, seq)
        if self.maintain_books:
            if isinstance(msg, OrderbookSnapshot):
                self._on_snapshot(msg, subs)
            elif isinstance(msg, OrderbookDelta):
                self._on_delta(msg, subs)
        self._emit(msg)

    def _on_reply(self, msg: Subscribed | Ok | Unsubscribed) -> None:
        pending = self._pending.get(msg.id) if msg.id else None
        if isinstance(msg, Subscribed) and pending is not None:
            cs = next((s for s in pending.subs if s.channel == msg.channel and s.sid is None), None)
            if cs is not None:
                cs.sid = msg.sid
                lst = self._by_sid.setdefault(msg.sid, [])
                if cs not in lst:
                    lst.append(cs)
                if len(lst) == 1:
                    self._last_seq.pop(msg.sid, None)
        if pending is not None:
            pending.add(msg)

    def _on_error(self, msg: ErrorMessage) -> None:
        err = msg.error
        pending = self._pending.get(msg.id) if msg.id else None
        if pending is not None:
            pending.fail(err)
            return
        self._emit(StreamError(err))
        if err.needs_resubscribe and msg.sid is not None:
            log.warning("kalshi stream: error %s on sid %s; resubscribing", err.ws_code, msg.sid)
            self._spawn(self._resubscribe_sid(msg.sid))

    def _on_gap(self, sid: int, channel: str, expected: int, received: int) -> None:
        self.gap_count += 1
        tickers = self._tickers_for_sid(sid)
        log.warning(
            "kalshi stream: seq gap on sid %s (%s): expected %s, got %s", sid, channel, expected, received
        )
        self._emit(SequenceGap(sid, channel, expected, received, tuple(sorted(tickers or ()))))
        if channel == "orderbook_delta":
            self._resync(sid, f"seq gap (expected {expected}, got {received})")

    def _resync(self, sid: int, reason: str) -> None:
        tickers = sorted(self._tickers_for_sid(sid) or ())
        for t in tickers:
            book = self.books.get(t)
            if book is not None:
                book.mark_stale(reason)
        if tickers:
            self._spawn(self._request_snapshot(sid, tickers))
        else:
            self._spawn(self._resubscribe_sid(sid))

    def _on_snapshot(self, msg: OrderbookSnapshot, subs: Sequence[ChannelSub]) -> None:
        use_yes = any(cs.handle.use_yes_price for cs in subs)
        book = self.books.get(msg.market_ticker)
        if book is None:
            book = self.books[msg.market_ticker] = OrderBook(msg.market_ticker)
        try:
            book.apply_snapshot(msg.yes, msg.no, no_in_yes_prices=use_yes, seq=msg.seq)
        except ProtocolError as exc:
            book.mark_stale(str(exc))
            self._emit(StreamError(exc))

    def _on_delta(self, msg: OrderbookDelta, subs: Sequence[ChannelSub]) -> None:
        book = self.books.get(msg.market_ticker)
        if book is None or book.stale:
            return  # waiting for a snapshot: never apply across a gap
        use_yes = any(cs.handle.use_yes_price for cs in subs)
        try:
            book.apply_delta(msg.side, msg.price, msg.delta, no_in_yes_prices=use_yes, seq=msg.seq)
        except ProtocolError as exc:
            self._emit(StreamError(exc))
            self._resync(msg.sid, str(exc))
