"""The simulator's network face: a pure ASGI app serving Kalshi's Trade API v2 (REST + WebSocket).

This module is the ASGI plumbing (lifespan, clock, signing, rate limits, faults, error mapping); the REST
endpoints are in handlers/ (one module per area, wired up in routes.py), request parsing in parsing.py,
and the WebSocket side in ws.py (fed by feed.WsFeed).

REST lives under ``/trade-api/v2``, the WebSocket at ``/trade-api/ws/v2``; test switches under ``/_sim/``
(loopback clients only). The app owns the simulated clock: a background task calls ``exchange.advance`` with
the real UTC time (plus any offset added by ``/_sim/advance``) every ``tick_interval`` seconds. The engine is
single-threaded and is only ever touched from the loop this app runs on.

Choices where Kalshi's behaviour is unconfirmed (protocol §8):
* Retired V1 order writes answer **400** with the ``deprecated_v1_order_endpoint`` body (a third-party report
  says 2xx; a 4xx is what a client must not mistake for success).
* Duplicate ``client_order_id`` → 409 ``{"error": {"code": "order_already_exists", ...}}``.
* Public market-data GETs (incl. orderbooks) work unsigned; if signed the signature must be valid.
* Unauthenticated reads are rate-limited per client IP with the tier's read bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from kalshiweb.simulator.api import API_PREFIX, ApiError, Request, Response, match_route, not_found
from kalshiweb.simulator.auth import FULL_ACCESS, AuthError, KeyRegistry, Verifier
from kalshiweb.simulator.auth import error_body as auth_error_body
from kalshiweb.simulator.discovery import Discovery, event_fee_update_msg
from kalshiweb.simulator.engine import Exchange, ExchangeError
from kalshiweb.simulator.events import ChannelBroadcast
from kalshiweb.simulator.faults import Faults
from kalshiweb.simulator.feed import WsFeed
from kalshiweb.simulator.handlers.breadth import BreadthHandlers
from kalshiweb.simulator.handlers.exchange import ExchangeHandlers
from kalshiweb.simulator.handlers.history import HistoryHandlers
from kalshiweb.simulator.handlers.markets import MarketHandlers
from kalshiweb.simulator.handlers.orders import OrderHandlers
from kalshiweb.simulator.handlers.portfolio import PortfolioHandlers
from kalshiweb.simulator.handlers.sim import SimHandlers
from kalshiweb.simulator.ratelimit import DEFAULT_COST, RateLimiter
from kalshiweb.simulator.routes import build_routes
from kalshiweb.simulator.ws import WS_PATH, Hub

# Re-exported: tests and callers import the HTTP types from here.
__all__ = ["API_PREFIX", "ApiError", "Request", "Response", "SimulatorApp"]

log = logging.getLogger(__name__)

TOO_MANY_REQUESTS = {"error": "too many requests"}


class SimulatorApp:
    def __init__(
        self,
        exchange: Exchange,
        *,
        registry: KeyRegistry | None = None,
        faults: Faults | None = None,
        rate_limit_tier: str | None = "basic",
        timestamp_window_s: float = 30.0,
        tick_interval: float = 0.1,
        default_balance: Decimal | None = None,
    ) -> None:
        self.exchange = exchange
        self.registry = registry or KeyRegistry()
        self.verifier = Verifier(self.registry, window_s=timestamp_window_s)
        self.faults = faults or Faults()
        self.limiter = RateLimiter(rate_limit_tier)
        self.tick_interval = tick_interval
        self.default_balance = default_balance
        self.time_offset = timedelta(0)
        self.hub = Hub(WsFeed(exchange, self.faults, self.now))
        self.loop: asyncio.AbstractEventLoop | None = None
        self._clock_task: asyncio.Task[None] | None = None
        # set by the runner: finds the abort() of the connection a request came in on
        self.transport_lookup: Callable[[Any], Callable[[], None] | None] | None = None
        self.sim = SimHandlers(exchange, self)
        self.discovery = Discovery(
            exchange.lifecycle.event_fee_overrides
        )  # issue #15 breadth: fee changes, discovery, live data
        self.hub.is_multivariate = self._is_multivariate
        self.routes = build_routes(
            ExchangeHandlers(),
            MarketHandlers(exchange),
            PortfolioHandlers(exchange, limiter=self.limiter, registry=self.registry),
            OrderHandlers(exchange),
            HistoryHandlers(exchange),  # issue #15 history
            breadth=BreadthHandlers(exchange, self.discovery, self.registry, self.apply_fee_changes),
        )

    def _is_multivariate(self, ticker: str) -> bool:
        market = self.exchange.markets.get(ticker)
        return market is not None and market.event_ticker in self.discovery.multivariate_events

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Attach to the running loop and start the clock. Idempotent; also done lazily on first request."""
        if self.loop is not None:
            return
        self.loop = asyncio.get_running_loop()
        self.faults.attach(self.loop, self.hub)
        self.exchange.add_listener(self.hub.on_event)
        self._clock_task = self.loop.create_task(self._run_clock())

    async def stop(self) -> None:
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = None

    def now(self) -> datetime:
        return datetime.now(UTC) + self.time_offset

    async def _run_clock(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                self.exchange.advance(self.now())
                self.apply_fee_changes()
            except Exception:
                log.exception("exchange.advance failed")

    def apply_fee_changes(self) -> None:
        """Issue #15 breadth: put due fee changes into effect; announce event overrides (`event_fee_update`)."""
        _series, events = self.discovery.apply_due(self.exchange.now, self.exchange.series)
        for change in events:
            self.hub.on_event(
                ChannelBroadcast(("market_lifecycle_v2",), "event_fee_update", event_fee_update_msg(change))
            )

    def register_key(
        self,
        public_pem: bytes | str,
        *,
        key_id: str | None = None,
        balance: Decimal | None = None,
        scopes: tuple[str, ...] = FULL_ACCESS,
    ) -> str:
        """Register an API key and its account. Call on the server loop (or before it starts). Returns key_id."""
        api_key = self.registry.add(public_pem, key_id=key_id, user_id=str(uuid.uuid4()), scopes=scopes)
        bal = balance if balance is not None else self.default_balance
        self.exchange.add_account(api_key.user_id, bal)
        return api_key.key_id

    # -- ASGI -----------------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        self.start()
        if scope["type"] == "http":
            await self.handle_http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.handle_websocket(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _headers(scope: dict[str, Any]) -> dict[str, str]:
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

    @staticmethod
    def _client_host(scope: dict[str, Any]) -> str:
        client = scope.get("client")
        return client[0] if client else ""

    async def handle_websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if scope["path"] != WS_PATH:
            await self._deny(
                scope, send, 404, {"error": {"code": "not_found", "message": "not found", "details": ""}}
            )
            return
        headers = self._headers(scope)
        try:
            api_key = self.verifier.verify(headers, "GET", scope["path"], now=self.clock())
        except AuthError as exc:
            await self._deny(scope, send, 401, auth_error_body(exc.details))
            return
        abort = scope.get("extensions", {}).get("kalshi.sim.transport", {}).get("abort")
        await self.hub.serve(api_key.user_id, receive, send, abort)

    @staticmethod
    async def _deny(scope: dict[str, Any], send: Any, status: int, body: dict[str, Any]) -> None:
        if "websocket.http.response" in scope.get("extensions", {}):
            raw = json.dumps(body).encode()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(raw)).encode()),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": raw})
        else:
            await send({"type": "websocket.close", "code": 1008})

    async def handle_http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        method = scope["method"].upper()
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        req = Request(method, path, query, self._headers(scope), body, self._client_host(scope))
        try:
            if path.startswith("/_sim/"):
                response = self.handle_sim(req)
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                req.path = path[len(API_PREFIX) :] or "/"
                api_response = await self.handle_api(req, scope)
                if api_response is None:  # timeout_after_accept: the connection was aborted
                    return
                response = api_response
            else:
                response = Response(404, not_found(f"no route for {path}").body())
        except ApiError as exc:
            response = Response(exc.status, exc.body())
        except Exception:
            log.exception("unhandled error for %s %s", method, path)
            response = Response(
                500,
                {
                    "error": {
                        "code": "internal_server_error",
                        "message": "internal server error",
                        "details": "",
                    }
                },
            )
        await self._send(send, response)

    def clock(self) -> float:
        """The exchange's wall clock (Unix seconds): this machine's, plus any injected clock-skew fault."""
        return time.time() + self.faults.clock_skew_seconds

    async def _send(self, send: Any, response: Response) -> None:
        raw = b"" if response.body is None else json.dumps(response.body).encode()
        headers = [
            (b"content-length", str(len(raw)).encode()),
            (b"date", formatdate(self.clock(), usegmt=True).encode()),
        ]
        if response.body is not None:
            headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    async def handle_api(self, req: Request, scope: dict[str, Any]) -> Response | None:
        if self.faults.latency_seconds:
            await asyncio.sleep(self.faults.latency_seconds)
        route = match_route(self.routes, req)
        self.exchange.advance(self.now())  # the engine's clock is never behind a request
        full_path = API_PREFIX + req.path
        if self.verifier.has_credentials(req.headers) or route.auth:
            try:
                api_key = self.verifier.verify(req.headers, req.method, full_path, now=self.clock())
            except AuthError as exc:
                return Response(401, auth_error_body(exc.details))
            req.user_id = api_key.user_id
            req.api_key_id = api_key.key_id
            if route.kind == "write" and not api_key.can_trade:
                return Response(
                    403,
                    {
                        "error": {
                            "code": "forbidden",
                            "message": "this API key has no write scope",
                            "details": f"scopes: {', '.join(api_key.scopes)}",
                        }
                    },
                )
        identity = req.user_id or f"ip:{req.client_host}"
        cost = route.cost(req) if route.cost else DEFAULT_COST
        if not self.limiter.allow(identity, route.kind, cost):
            return Response(429, TOO_MANY_REQUESTS)
        rule = self.faults.take_failure(req.path)
        if rule is not None and rule.mode == "429":
            return Response(429, TOO_MANY_REQUESTS)
        if rule is not None and rule.mode == "500":
            return Response(
                500, {"error": {"code": "internal_server_error", "message": "injected fault", "details": ""}}
            )
        try:
            result = route.handler(req)
            response = result if isinstance(result, Response) else Response(200, result)
        except ExchangeError as exc:
            response = Response(
                exc.http_status, {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
            )
        if rule is not None and rule.mode == "timeout_after_accept":
            await asyncio.sleep(rule.hang_seconds)
            await self._abort_http(scope)
            return None
        return response

    async def _abort_http(self, scope: dict[str, Any]) -> None:
        if self.transport_lookup is None:  # not under our runner: fail so the server drops the connection
            raise ConnectionAbortedError("timeout_after_accept")
        abort = self.transport_lookup(scope.get("client"))
        if abort is not None:  # None: the client has already hung up
            abort()
            for _ in range(3):  # let the server see the connection is gone before the app returns
                await asyncio.sleep(0)

    # -- /_sim control --------------------------------------------------------------------------------------
    # -- /_sim control --------------------------------------------------------------------------------------

    def handle_sim(self, req: Request) -> Response:
        return self.sim.handle(req)

    def sim_state(self) -> dict[str, Any]:
        return {
            "now": self.now().isoformat(),
            "time_offset_seconds": self.time_offset.total_seconds(),
            "faults": self.faults.state(),
            "ws_sessions": len(self.hub.sessions),
            "accounts": len(self.registry),
            "markets": len(self.exchange.markets),
            "rate_limit_tier": self.limiter.limits.name if self.limiter.limits else None,
        }

    # -- routes ---------------------------------------------------------------------------------------------
