"""WebSocket sessions for the simulator: commands, subscriptions and fan-out of engine events (protocol §7).

One ``Session`` per connection. Engine events arrive synchronously on the server loop (``Hub.on_event``),
are turned into Kalshi messages and put on each interested session's outgoing queue; a per-session sender
task writes them out, so a slow client never blocks the engine. The queue is bounded for data messages: on
overflow the subscription gets error 25 ("Subscription buffer overflow") and is dropped.

Choices where Kalshi's behaviour is not documented (protocol §8):
* ``seq`` counts per sid from 1 and is shared by all markets of the subscription; ``get_snapshot`` snapshots
  and ``unsubscribed`` consume a number, ``ok`` replies carry the current number without consuming one (and
  no ``seq`` while it is 0: on channels without numbers, or before the first numbered message).
* A second ``subscribe`` to a channel the session already has merges the markets into the existing
  subscription and answers ``subscribed`` with the existing sid (snapshots only for markets new to it).
* Unknown market tickers in a subscribe / add_markets → error 11 "Invalid parameter".
* Channels Kalshi has but the simulator does not feed (communications, ...) can be
  subscribed and simply stay quiet.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kalshiweb.simulator.faults import Faults

log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"


class HubApp(Protocol):
    """What the hub needs from the exchange side (`feed.WsFeed` is one): market lookups, and each engine
    event (or snapshot) as the `msg` part of a wire message."""

    @property
    def faults(self) -> Faults: ...

    def market_exists(self, ticker: str) -> bool: ...
    def all_tickers(self) -> list[str]: ...
    def ticker_for_market_id(self, market_id: str) -> str | None: ...
    def snapshot_msg(self, ticker: str, use_yes_price: bool) -> dict[str, Any]: ...
    def delta_msg(self, event: Any, *, own: bool, use_yes_price: bool) -> dict[str, Any]: ...
    def ticker_msg(self, ticker: str) -> dict[str, Any]: ...
    def trade_ticker(self, trade: Any) -> str: ...
    def trade_msg(self, trade: Any) -> dict[str, Any]: ...
    def lifecycle_msg(self, event: Any) -> dict[str, Any] | None: ...
    def private_event_ticker(self, event: Any) -> str: ...
    def private_msg(self, event: Any) -> dict[str, Any]: ...
    def order_group_msg(self, event: Any) -> dict[str, Any]: ...


SEQUENCED = {
    "orderbook_delta",
    "trade",
    "market_lifecycle_v2",
    "multivariate_market_lifecycle",
    "order_group_updates",
    "communications",
}
SUPPORTED = {
    "orderbook_delta",
    "ticker",
    "trade",
    "fill",
    "market_positions",
    "user_orders",
    "market_lifecycle_v2",
    "order_group_updates",  # order groups
    "multivariate_market_lifecycle",  # issue #15 breadth: markets of events marked multivariate
}
KNOWN_QUIET = {
    "communications",
    "cfbenchmarks_value",
    "cfbenchmarks_value_5hz",
    "pyth_value",
}
CHANNELS = SUPPORTED | KNOWN_QUIET
PRIVATE = {"fill", "market_positions", "user_orders", "order_group_updates"}
MARKET_FILTERED = {"orderbook_delta", "ticker", "trade", "fill", "market_positions", "user_orders"}

ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    9: "Authentication required",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    25: "Subscription buffer overflow",
}

DEFAULT_QUEUE_LIMIT = 5000


class CommandError(Exception):
    def __init__(self, code: int, sid: int | None = None, *, market_ticker: str | None = None) -> None:
        super().__init__(ERRORS[code])
        self.code = code
        self.sid = sid
        self.market_ticker = market_ticker  # the error's msg.market_ticker, when it is about one market


@dataclass
class Subscription:
    sid: int
    channel: str
    tickers: set[str] | None  # None = every market
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    seq: int = 0

    @property
    def sequenced(self) -> bool:
        return self.channel in SEQUENCED

    def covers(self, ticker: str) -> bool:
        return self.tickers is None or ticker in self.tickers


@dataclass(eq=False)
class Session:
    hub: Hub
    user_id: str
    send: Callable[[dict[str, Any]], Awaitable[None]]
    abort: Callable[[], None] | None = None
    queue_limit: int = DEFAULT_QUEUE_LIMIT
    subs: dict[int, Subscription] = field(default_factory=dict)
    outbox: collections.deque[tuple[int | None, str]] = field(default_factory=collections.deque)
    data_queued: int = 0
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    # -- outgoing -------------------------------------------------------------------------------------------

    def reply(self, payload: dict[str, Any]) -> None:
        """Command replies and errors: never dropped, never silenced."""
        self.outbox.append((None, json.dumps(payload)))
        self.wakeup.set()

    def publish(
        self, sub: Subscription, msg_type: str, msg: dict[str, Any], *, cmd_id: int | None = None
    ) -> None:
        """A data message on ``sub`` (adds type/sid/seq envelope)."""
        if self.closed or sub.sid not in self.subs:
            return
        payload: dict[str, Any] = {"type": msg_type, "sid": sub.sid}
        if cmd_id:
            payload["id"] = cmd_id
        if sub.sequenced:
            sub.seq += 1
            payload["seq"] = sub.seq
        payload["msg"] = msg
        if self.hub.faults.silenced:
            return
        if self.data_queued >= self.queue_limit:
            self.overflow(sub)
            return
        self.outbox.append((sub.sid, json.dumps(payload)))
        self.data_queued += 1
        self.wakeup.set()

    def overflow(self, sub: Subscription) -> None:
        log.warning(
            "ws session %s: buffer overflow on sid %s, dropping the subscription", self.user_id, sub.sid
        )
        self.subs.pop(sub.sid, None)
        kept = [(sid, text) for sid, text in self.outbox if sid != sub.sid]
        self.data_queued -= len(self.outbox) - len(kept)
        self.outbox = collections.deque(kept)
        self.reply({"id": 0, "type": "error", "sid": sub.sid, "msg": {"code": 25, "msg": ERRORS[25]}})

    async def run_sender(self) -> None:
        while not self.closed:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.outbox and not self.closed:
                sid, text = self.outbox.popleft()
                if sid is not None:
                    self.data_queued -= 1
                await self.send({"type": "websocket.send", "text": text})

    # -- commands -------------------------------------------------------------------------------------------

    def handle_text(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            self.error(None, 1)
            return
        if not isinstance(data, dict):
            self.error(None, 1)
            return
        cmd_id = data.get("id", 0)
        if cmd_id is None:
            cmd_id = 0
        if not isinstance(cmd_id, int) or isinstance(cmd_id, bool):
            self.error(None, 1)
            return
        handlers = {
            "subscribe": self.cmd_subscribe,
            "unsubscribe": self.cmd_unsubscribe,
            "update_subscription": self.cmd_update_subscription,
            "list_subscriptions": self.cmd_list_subscriptions,
        }
        cmd = data.get("cmd")
        handler = handlers.get(cmd) if isinstance(cmd, str) else None
        if handler is None:
            self.error(cmd_id, 5)
            return
        params = data.get("params")
        failure = self.hub.faults.take_command_failure()
        if failure is not None:
            self.error(cmd_id, failure)
            return
        try:
            handler(cmd_id, params)
        except CommandError as exc:
            self.error(cmd_id, exc.code, exc.sid, market_ticker=exc.market_ticker)
        except Exception:
            log.exception("ws command failed: %r", data)
            self.error(cmd_id, 10)

    def error(
        self, cmd_id: int | None, code: int, sid: int | None = None, *, market_ticker: str | None = None
    ) -> None:
        payload: dict[str, Any] = {"id": cmd_id or 0, "type": "error"}
        if sid is not None:
            payload["sid"] = sid
        payload["msg"] = {"code": code, "msg": ERRORS[code]}
        if market_ticker is not None:
            payload["msg"]["market_ticker"] = market_ticker
        self.reply(payload)

    def _tickers(self, params: dict[str, Any]) -> list[str] | None:
        """market_ticker / market_tickers from params; None when neither is given."""
        tickers: list[str] = []
        given = False
        if "market_ticker" in params:
            given = True
            if not isinstance(params["market_ticker"], str) or not params["market_ticker"]:
                raise CommandError(11)
            tickers.append(params["market_ticker"])
        if "market_tickers" in params:
            given = True
            value = params["market_tickers"]
            if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
                raise CommandError(11)
            tickers.extend(value)
        if "market_id" in params or "market_ids" in params:
            given = True
            ids = [params["market_id"]] if "market_id" in params else params.get("market_ids")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise CommandError(11)
            for market_id in ids:
                ticker = self.hub.app.ticker_for_market_id(market_id)
                if ticker is None:
                    raise CommandError(11)
                tickers.append(ticker)
        if not given:
            return None
        unknown = [t for t in tickers if not self.hub.app.market_exists(t)]
        if unknown:
            # The whole command is refused (nothing of it applies); the error names the first unknown market.
            raise CommandError(11, market_ticker=unknown[0])
        return list(dict.fromkeys(tickers))

    @staticmethod
    def _flag(params: dict[str, Any], name: str) -> bool:
        value = params.get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise CommandError(11)
        return value

    def cmd_subscribe(self, cmd_id: int, params: Any) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        channels = params.get("channels")
        if channels is None or channels == []:
            raise CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise CommandError(11)
        if any(c not in CHANNELS for c in channels):
            raise CommandError(8)
        tickers = self._tickers(params)
        if "orderbook_delta" in channels and not tickers:
            raise CommandError(14)
        use_yes_price = self._flag(params, "use_yes_price")
        initial_snapshot = self._flag(params, "send_initial_snapshot")
        skip_ack = self._flag(params, "skip_ticker_ack")
        for channel in dict.fromkeys(channels):
            wanted = None if channel not in MARKET_FILTERED else (set(tickers) if tickers else None)
            existing = next((s for s in self.subs.values() if s.channel == channel), None)
            if existing is not None:
                added = self._merge(existing, wanted)
                sub = existing
            else:
                sub = Subscription(
                    self.hub.next_sid(),
                    channel,
                    wanted,
                    use_yes_price=use_yes_price,
                    skip_ticker_ack=skip_ack,
                )
                self.subs[sub.sid] = sub
                added = sorted(wanted) if wanted is not None else None
            self.reply({"id": cmd_id, "type": "subscribed", "msg": {"channel": channel, "sid": sub.sid}})
            if channel == "orderbook_delta":
                for ticker in added or []:
                    self.send_snapshot(sub, ticker)
            elif channel == "ticker" and initial_snapshot:
                targets = added if added is not None else self.hub.app.all_tickers()
                for ticker in targets:
                    self.send_ticker(sub, ticker)

    @staticmethod
    def _merge(sub: Subscription, wanted: set[str] | None) -> list[str] | None:
        if sub.tickers is None:
            return []
        if wanted is None:
            sub.tickers = None
            return None
        added = sorted(wanted - sub.tickers)
        sub.tickers |= wanted
        return added

    def cmd_unsubscribe(self, cmd_id: int, params: Any) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        sids = params.get("sids")
        if sids is None or sids == []:
            raise CommandError(4)
        if not isinstance(sids, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in sids
        ):
            raise CommandError(11)
        for sid in sids:
            if sid not in self.subs:
                raise CommandError(7)
        for sid in sids:
            sub = self.subs.pop(sid)
            sub.seq += 1
            self.reply({"id": cmd_id, "sid": sid, "seq": sub.seq, "type": "unsubscribed"})

    def cmd_update_subscription(self, cmd_id: int, params: Any) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        if "sids" in params:
            sids = params["sids"]
            if not isinstance(sids, list) or len(sids) != 1:
                raise CommandError(12)
            sid = sids[0]
        elif "sid" in params:
            sid = params["sid"]
        else:
            raise CommandError(12)
        if not isinstance(sid, int) or isinstance(sid, bool):
            raise CommandError(11)
        action = params.get("action")
        if action is None or action == "":
            raise CommandError(15)
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise CommandError(13)
        sub = self.subs.get(sid)
        if sub is None:
            raise CommandError(7)
        if action == "get_snapshot" and sub.channel != "orderbook_delta":
            raise CommandError(13, sid)
        if sub.channel not in MARKET_FILTERED:
            raise CommandError(13, sid)
        tickers = self._tickers(params)
        if not tickers:
            raise CommandError(14, sid)
        if action == "get_snapshot":
            outside = [t for t in tickers if sub.tickers is not None and t not in sub.tickers]
            if outside:
                raise CommandError(11, sid, market_ticker=outside[0])
            for ticker in tickers:
                self.send_snapshot(sub, ticker, cmd_id=cmd_id)
            return
        added: list[str] = []
        if action == "add_markets":
            if sub.tickers is not None:
                added = [t for t in tickers if t not in sub.tickers]
                sub.tickers.update(tickers)
        else:
            if sub.tickers is None:
                raise CommandError(13, sid)
            sub.tickers.difference_update(tickers)
        msg: dict[str, Any] = {}
        if not sub.skip_ticker_ack:
            msg["market_tickers"] = sorted(sub.tickers) if sub.tickers is not None else []
        ok: dict[str, Any] = {"id": cmd_id, "sid": sid}
        if sub.seq:  # Kalshi's seq is >= 1 (AsyncAPI): none before the sid's first numbered message
            ok["seq"] = sub.seq
        self.reply({**ok, "type": "ok", "msg": msg})
        if sub.channel == "orderbook_delta":
            for ticker in added:
                self.send_snapshot(sub, ticker)
        elif sub.channel == "ticker" and self._flag(params, "send_initial_snapshot"):
            for ticker in added:
                self.send_ticker(sub, ticker)

    def cmd_list_subscriptions(self, cmd_id: int, params: Any) -> None:
        msg = [{"channel": s.channel, "sid": s.sid} for s in sorted(self.subs.values(), key=lambda s: s.sid)]
        self.reply({"id": cmd_id, "type": "ok", "msg": msg})

    # -- data -----------------------------------------------------------------------------------------------

    def send_snapshot(self, sub: Subscription, ticker: str, *, cmd_id: int | None = None) -> None:
        self.publish(
            sub, "orderbook_snapshot", self.hub.app.snapshot_msg(ticker, sub.use_yes_price), cmd_id=cmd_id
        )

    def send_ticker(self, sub: Subscription, ticker: str) -> None:
        self.publish(sub, "ticker", self.hub.app.ticker_msg(ticker))

    def subs_for(self, channel: str, ticker: str | None = None) -> Iterable[Subscription]:
        for sub in list(self.subs.values()):
            if sub.channel == channel and (ticker is None or sub.covers(ticker)):
                yield sub


class Hub:
    """All live sessions; translates engine events to messages. Runs on the server loop only."""

    def __init__(self, app: HubApp, *, queue_limit: int = DEFAULT_QUEUE_LIMIT) -> None:
        self.app = app
        self.faults = app.faults
        self.sessions: set[Session] = set()
        self._sids = itertools.count(1)
        self.queue_limit = queue_limit
        # issue #15 breadth: is this market's event multivariate? (its lifecycle also goes on
        # multivariate_market_lifecycle); the server sets it from its discovery state
        self.is_multivariate: Callable[[str], bool] = lambda ticker: False

    def next_sid(self) -> int:
        return next(self._sids)

    # -- fault hooks ----------------------------------------------------------------------------------------

    def drop_all(self) -> int:
        sessions = list(self.sessions)
        for session in sessions:
            session.closed = True
            session.wakeup.set()
            if session.abort is not None:
                session.abort()
            else:
                task = asyncio.ensure_future(session.send({"type": "websocket.close", "code": 1011}))
                task.add_done_callback(lambda t: t.exception())
        self.sessions.clear()
        return len(sessions)

    def skip_seq(self, count: int) -> int:
        hit = 0
        for session in self.sessions:
            for sub in session.subs.values():
                if sub.sequenced:
                    sub.seq += count
                    hit += 1
        return hit

    # -- connection -----------------------------------------------------------------------------------------

    async def serve(
        self,
        user_id: str,
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
        abort: Callable[[], None] | None,
    ) -> None:
        await send({"type": "websocket.accept"})
        session = Session(self, user_id, send, abort, queue_limit=self.queue_limit)
        self.sessions.add(session)
        sender = asyncio.create_task(session.run_sender())
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:
                    data = message.get("bytes") or b""
                    try:
                        text = data.decode()
                    except UnicodeDecodeError:
                        session.error(None, 1)
                        continue
                session.handle_text(text)
        except Exception:
            log.debug("ws session ended", exc_info=True)
        finally:
            session.closed = True
            session.wakeup.set()
            self.sessions.discard(session)
            sender.cancel()
            try:
                await sender
            except BaseException:
                pass

    # -- engine events --------------------------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        if not self.sessions:
            return
        try:
            self._dispatch(event)
        except Exception:
            log.exception("failed to fan out %r", event)

    def _dispatch(self, event: Any) -> None:
        kind = type(event).__name__
        app = self.app
        if kind == "BookDelta":
            cache: dict[tuple[bool, bool], dict[str, Any]] = {}
            for session in list(self.sessions):
                own = event.user_id is not None and event.user_id == session.user_id
                for sub in session.subs_for("orderbook_delta", event.ticker):
                    key = (own, sub.use_yes_price)
                    if key not in cache:
                        cache[key] = app.delta_msg(event, own=own, use_yes_price=sub.use_yes_price)
                    session.publish(sub, "orderbook_delta", cache[key])
        elif kind == "TickerUpdate":
            msg = None
            for session in list(self.sessions):
                for sub in session.subs_for("ticker", event.ticker):
                    msg = msg or app.ticker_msg(event.ticker)
                    session.publish(sub, "ticker", msg)
        elif kind == "TradeEvent":
            ticker = app.trade_ticker(event.trade)
            msg = None
            for session in list(self.sessions):
                for sub in session.subs_for("trade", ticker):
                    msg = msg or app.trade_msg(event.trade)
                    session.publish(sub, "trade", msg)
        elif kind == "LifecycleEvent":
            msg = None
            for session in list(self.sessions):
                for sub in session.subs_for("market_lifecycle_v2"):
                    msg = msg or app.lifecycle_msg(event)
                    if msg is not None:
                        session.publish(sub, "market_lifecycle_v2", msg)
            if self.is_multivariate(event.ticker):
                mv = None
                for session in list(self.sessions):
                    for sub in session.subs_for("multivariate_market_lifecycle"):
                        mv = mv or app.lifecycle_msg(event)
                        if mv is not None:
                            session.publish(sub, "multivariate_market_lifecycle", mv)
        elif kind == "CommsEvent":  # issue #15: RFQs and quotes on the communications channel
            for session in list(self.sessions):
                if event.recipients is None or session.user_id in event.recipients:
                    for sub in session.subs_for("communications"):
                        session.publish(sub, event.msg_type, event.msg)
        elif kind == "OrderGroupEvent":  # order groups: the owner's order_group_updates subscriptions
            msg = None
            for session in [s for s in self.sessions if s.user_id == event.user_id]:
                for sub in session.subs_for("order_group_updates"):
                    msg = msg or app.order_group_msg(event)
                    session.publish(sub, "order_group_updates", msg)
        elif kind == "ChannelBroadcast":
            for session in list(self.sessions):
                for channel in event.channels:
                    for sub in session.subs_for(channel):
                        session.publish(sub, event.msg_type, dict(event.msg))
        elif kind in ("FillEvent", "OrderUpdate", "PositionUpdate"):
            channel, msg_type = {
                "FillEvent": ("fill", "fill"),
                "OrderUpdate": ("user_orders", "user_order"),
                "PositionUpdate": ("market_positions", "market_position"),
            }[kind]
            owners = [s for s in self.sessions if s.user_id == event.user_id]
            if not owners:
                return
            ticker = app.private_event_ticker(event)
            msg = None
            for session in owners:
                for sub in session.subs_for(channel, ticker):
                    msg = msg or app.private_msg(event)
                    session.publish(sub, msg_type, msg)
