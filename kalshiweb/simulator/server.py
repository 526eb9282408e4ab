"""The simulator's network face: a pure ASGI app serving Kalshi's Trade API v2 (REST + WebSocket).

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
import base64
import contextlib
import ipaddress
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from . import wire
from .auth import FULL_ACCESS, AuthError, KeyRegistry, Verifier
from .auth import error_body as auth_error_body
from .engine import Exchange, ExchangeError
from .faults import Faults
from .ratelimit import CANCEL_COST, DEFAULT_COST, RateLimiter
from .ws import WS_PATH, Hub

log = logging.getLogger(__name__)

API_PREFIX = "/trade-api/v2"
TOO_MANY_REQUESTS = {"error": "too many requests"}
V1_DEPRECATED = {
    "error": {
        "code": "deprecated_v1_order_endpoint",
        "message": "Please switch to the V2 endpoints",
        "details": "https://docs.kalshi.com/api-reference/orders/create-order-v2",
    }
}
TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")
STP_TYPES = ("taker_at_cross", "maker")
MARKET_STATUS_FILTER = {
    "unopened": {"initialized", "unopened"},
    "open": {"active", "open"},
    "paused": {"inactive", "paused"},
    "closed": {"closed", "determined", "disputed", "amended"},
    "settled": {"finalized", "settled"},
}
ORDER_STATUSES = ("resting", "canceled", "executed")
MAX_UNIX_SECONDS = 253402300800  # year 10000


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def bad_request(details: str, code: str = "invalid_parameters") -> ApiError:
    return ApiError(400, code, "invalid parameters" if code == "invalid_parameters" else code, details)


def not_found(details: str) -> ApiError:
    return ApiError(404, "not_found", "not found", details)


@dataclass
class Request:
    method: str
    path: str  # relative to /trade-api/v2
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    client_host: str
    params: dict[str, str] = field(default_factory=dict)
    user_id: str | None = None
    api_key_id: str | None = None

    # -- query helpers --------------------------------------------------------------------------------------

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        if not values:
            return None
        return values[-1]

    def q_list(self, name: str) -> list[str]:
        out: list[str] = []
        for value in self.query.get(name, []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    def q_int(
        self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"{name} must be an integer") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise bad_request(f"{name} must be between {lo} and {hi}")
        return value

    def q_bool(self, name: str, default: bool = False) -> bool:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise bad_request(f"{name} must be a boolean")

    def json(self) -> dict[str, Any]:
        if not self.body:
            raise bad_request("request body required")
        try:
            data = json.loads(self.body)
        except ValueError:
            raise bad_request("malformed JSON body") from None
        if not isinstance(data, dict):
            raise bad_request("JSON body must be an object")
        return data

    @property
    def user(self) -> str:
        assert self.user_id is not None
        return self.user_id


Handler = Callable[[Request], Any]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool
    kind: str  # read | write
    cost: Callable[[Request], int] | None = None


class Response:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status = status
        self.body = body


def _ts_ms() -> int:
    return int(time.time() * 1000)


def _rfc3339_to_ts(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _parse_count(value: Any, name: str = "count") -> Decimal:
    if not isinstance(value, str):
        raise bad_request(f'{name} must be a fixed-point string such as "10" or "10.00"')
    try:
        count = Decimal(value)
    except InvalidOperation:
        raise bad_request(f"{name} is not a number") from None
    if not count.is_finite() or count <= 0 or count != count.quantize(Decimal("0.01")):
        raise bad_request(f"{name} must be positive with at most 2 decimals", code="invalid_order_size")
    return count


def _parse_price(value: Any, name: str = "price") -> Decimal:
    if not isinstance(value, str):
        raise bad_request(f'{name} must be a dollar string such as "0.5600"')
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise bad_request(f"{name} is not a number") from None
    if not price.is_finite() or not (Decimal(0) < price < Decimal(1)):
        raise bad_request(f"{name} must be strictly between 0 and 1", code="invalid_order")
    return price


def _opt(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"{name} has the wrong type")
    return value


def _fmt_count(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def _fmt_dollars(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.0001")))


def _encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise bad_request("invalid cursor") from None


def paginate[T](
    items: list[T],
    key: Callable[[T], list[Any]],
    limit: int,
    cursor: str | None,
    *,
    descending: bool = False,
) -> tuple[list[T], str]:
    """Keyset pagination: items are sorted by ``key`` (unique per item); the opaque cursor holds the key of
    the last item returned, so items added or removed meanwhile never shift a page. Empty cursor = last page."""
    items = sorted(items, key=key, reverse=descending)
    start = 0
    if cursor:
        last = _decode_cursor(cursor)
        if not isinstance(last, list):
            raise bad_request("invalid cursor")
        start = len(items)
        for i, item in enumerate(items):
            k = key(item)
            try:
                after = k < last if descending else k > last
            except TypeError:
                raise bad_request("invalid cursor") from None
            if after:
                start = i
                break
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, (_encode_cursor(key(page[-1])) if more and page else "")


def _time_key(item: dict[str, Any], field_name: str, id_field: str) -> list[Any]:
    return [_rfc3339_to_ts(item.get(field_name)) or 0.0, item.get(id_field) or ""]


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
        self.hub = Hub(self)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._clock_task: asyncio.Task[None] | None = None
        # set by the runner: finds the abort() of the connection a request came in on
        self.transport_lookup: Callable[[Any], Callable[[], None] | None] | None = None
        self.routes = self._build_routes()

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
            except Exception:
                log.exception("exchange.advance failed")

    def register_key(
        self,
        public_pem: bytes | str,
        *,
        key_id: str | None = None,
        balance: Decimal | None = None,
        scopes: tuple[str, ...] = FULL_ACCESS,
    ) -> str:
        """Register an API key and its account. Call on the server loop (or before it starts). Returns key_id."""
        import uuid

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

    def _match(self, req: Request) -> Route:
        path_known = False
        for route in self.routes:
            m = route.pattern.fullmatch(req.path)
            if m is None:
                continue
            path_known = True
            if route.method == req.method:
                req.params = m.groupdict()
                return route
        if path_known:
            raise ApiError(405, "method_not_allowed", "method not allowed", f"{req.method} {req.path}")
        raise not_found(f"no route for {API_PREFIX}{req.path}")

    async def handle_api(self, req: Request, scope: dict[str, Any]) -> Response | None:
        if self.faults.latency_seconds:
            await asyncio.sleep(self.faults.latency_seconds)
        route = self._match(req)
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

    def handle_sim(self, req: Request) -> Response:
        try:
            loopback = ipaddress.ip_address(req.client_host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ApiError(403, "forbidden", "simulator controls are loopback-only", req.client_host)
        path = req.path
        if req.method == "GET" and path == "/_sim/state":
            return Response(200, self.sim_state())
        if req.method != "POST":
            raise ApiError(405, "method_not_allowed", "method not allowed", path)
        data: dict[str, Any] = {}
        if req.body:
            data = req.json()

        def arg(name: str, default: Any = None) -> Any:
            if name in data:
                return data[name]
            return req.q(name) if req.q(name) is not None else default

        if path == "/_sim/faults/drop_connections":
            return Response(200, {"dropped": self.faults.drop_connections()})
        if path == "/_sim/faults/skip_seq":
            return Response(200, {"sids": self.faults.skip_seq(int(arg("count", 1)))})
        if path == "/_sim/faults/silence":
            on = str(arg("on", "true")).lower() in ("true", "1")
            self.faults.silence(on)
            return Response(200, self.faults.state())
        if path == "/_sim/faults/fail_next":
            try:
                self.faults.fail_next(
                    int(arg("n", 1)),
                    str(arg("mode", "500")),
                    arg("path_prefix"),
                    float(arg("hang_seconds", 30.0)),
                )
            except ValueError as exc:
                raise bad_request(str(exc)) from None
            return Response(200, self.faults.state())
        if path == "/_sim/faults/latency":
            self.faults.latency(float(arg("seconds", 0)))
            return Response(200, self.faults.state())
        if path == "/_sim/faults/clock_skew":
            self.faults.clock_skew(float(arg("seconds", 0)))
            return Response(200, self.faults.state())
        if path == "/_sim/faults/reset":
            self.faults.reset()
            return Response(200, self.faults.state())
        if path == "/_sim/advance":
            seconds = float(arg("seconds", 0))
            if seconds < 0:
                raise bad_request("seconds must be >= 0")
            self.time_offset += timedelta(seconds=seconds)
            self.exchange.advance(self.now())
            return Response(200, {"now": self.now().isoformat()})
        m = re.fullmatch(r"/_sim/markets/(?P<ticker>[^/]+)/(?P<action>close|settle)", path)
        if m:
            ticker = m["ticker"]
            self._market(ticker)
            try:
                if m["action"] == "close":
                    self.exchange.close_market(ticker)
                else:
                    self.exchange.settle_market(ticker, str(arg("result", "yes")))
            except ExchangeError as exc:
                raise ApiError(exc.http_status, exc.code, exc.message, exc.details) from None
            return Response(200, {"market": self.market_json(ticker)})
        raise not_found(path)

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

    def _build_routes(self) -> list[Route]:
        def r(
            method: str,
            path: str,
            handler: Handler,
            *,
            auth: bool = False,
            kind: str = "read",
            cost: Callable[[Request], int] | None = None,
        ) -> Route:
            pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))
            return Route(method, pattern, handler, auth, kind, cost)

        def batch_cost(per_item: int) -> Callable[[Request], int]:
            def cost(req: Request) -> int:
                try:
                    orders = json.loads(req.body).get("orders")
                    return max(1, len(orders)) * per_item
                except Exception:
                    return per_item

            return cost

        def v1(req: Request) -> Response:
            return Response(400, V1_DEPRECATED)

        cancel_cost: Callable[[Request], int] = lambda req: CANCEL_COST  # noqa: E731
        return [
            r("GET", "/exchange/status", self.get_exchange_status),
            r("GET", "/exchange/schedule", self.get_exchange_schedule),
            r("GET", "/markets", self.get_markets),
            r("GET", "/markets/trades", self.get_trades),
            r("GET", "/markets/orderbooks", self.get_orderbooks),
            r("GET", "/markets/candlesticks", self.get_batch_candlesticks),
            r("GET", "/markets/{ticker}", self.get_market),
            r("GET", "/markets/{ticker}/orderbook", self.get_orderbook),
            r("GET", "/events", self.get_events),
            r("GET", "/events/{event_ticker}", self.get_event),
            r("GET", "/series", self.get_series_list),
            r("GET", "/series/{series_ticker}", self.get_series),
            r("GET", "/series/{series_ticker}/markets/{ticker}/candlesticks", self.get_candlesticks),
            r("GET", "/portfolio/balance", self.get_balance, auth=True),
            r("GET", "/portfolio/positions", self.get_positions, auth=True),
            r("GET", "/portfolio/fills", self.get_fills, auth=True),
            r("GET", "/portfolio/settlements", self.get_settlements, auth=True),
            r("GET", "/portfolio/orders", self.get_orders, auth=True),
            r("GET", "/portfolio/orders/{order_id}", self.get_order, auth=True),
            r("GET", "/account/limits", self.get_account_limits, auth=True),
            r("GET", "/api_keys", self.get_api_keys, auth=True),
            r("POST", "/portfolio/events/orders", self.create_order, auth=True, kind="write"),
            r("DELETE", "/portfolio/events/orders", self.cancel_all, auth=True, kind="write"),
            r(
                "POST",
                "/portfolio/events/orders/batched",
                self.batch_create,
                auth=True,
                kind="write",
                cost=batch_cost(DEFAULT_COST),
            ),
            r(
                "DELETE",
                "/portfolio/events/orders/batched",
                self.batch_cancel,
                auth=True,
                kind="write",
                cost=batch_cost(CANCEL_COST),
            ),
            r(
                "DELETE",
                "/portfolio/events/orders/{order_id}",
                self.cancel_order,
                auth=True,
                kind="write",
                cost=cancel_cost,
            ),
            r("POST", "/portfolio/events/orders/{order_id}/amend", self.amend_order, auth=True, kind="write"),
            r(
                "POST",
                "/portfolio/events/orders/{order_id}/decrease",
                self.decrease_order,
                auth=True,
                kind="write",
            ),
            # retired V1 writes
            r("POST", "/portfolio/orders", v1, auth=True, kind="write"),
            r("POST", "/portfolio/orders/batched", v1, auth=True, kind="write"),
            r("DELETE", "/portfolio/orders/batched", v1, auth=True, kind="write"),
            r("DELETE", "/portfolio/orders/{order_id}", v1, auth=True, kind="write"),
            r("POST", "/portfolio/orders/{order_id}/amend", v1, auth=True, kind="write"),
            r("POST", "/portfolio/orders/{order_id}/decrease", v1, auth=True, kind="write"),
        ]

    # -- engine adapters (the only places that know the engine's object model) ----------------------------

    def _market(self, ticker: str) -> Any:
        market = self.exchange.markets.get(ticker)
        if market is None:
            raise not_found(f"market {ticker} not found")
        return market

    def market_exists(self, ticker: str) -> bool:
        return ticker in self.exchange.markets

    def all_tickers(self) -> list[str]:
        return sorted(self.exchange.markets)

    def ticker_for_market_id(self, market_id: str) -> str | None:
        for ticker, market in self.exchange.markets.items():
            if str(getattr(market, "market_id", "")) == market_id:
                return ticker
        return None

    def market_json(self, ticker: str) -> dict[str, Any]:
        return wire.market_json(self.exchange.markets[ticker])

    def _account(self, user_id: str) -> Any:
        return self.exchange.account(user_id)

    def snapshot_msg(self, ticker: str, use_yes_price: bool) -> dict[str, Any]:
        yes, no = self.exchange.book(ticker)
        return wire.ws_orderbook_snapshot_msg(
            self.exchange.markets[ticker], yes, no, use_yes_price=use_yes_price
        )

    def delta_msg(self, event: Any, *, own: bool, use_yes_price: bool) -> dict[str, Any]:
        return wire.ws_orderbook_delta_msg(
            self.exchange.markets[event.ticker],
            event,
            self.now(),
            use_yes_price=use_yes_price,
            viewer_user_id=event.user_id if own else None,
        )

    def ticker_msg(self, ticker: str) -> dict[str, Any]:
        return wire.ws_ticker_msg(self.exchange.markets[ticker], self.now())

    def trade_ticker(self, trade: Any) -> str:
        return trade.ticker

    def trade_msg(self, trade: Any) -> dict[str, Any]:
        return wire.ws_trade_msg(trade)

    def lifecycle_msg(self, event: Any) -> dict[str, Any] | None:
        return wire.ws_market_lifecycle_msg(event)

    def private_event_ticker(self, event: Any) -> str:
        kind = type(event).__name__
        if kind == "FillEvent":
            return event.fill.ticker
        if kind == "OrderUpdate":
            return event.order.ticker
        return event.ticker

    def private_msg(self, event: Any) -> dict[str, Any]:
        kind = type(event).__name__
        if kind == "FillEvent":
            return wire.ws_fill_msg(event.fill, event.order)
        if kind == "OrderUpdate":
            return wire.ws_user_order_msg(event.order)
        return wire.ws_market_position_msg(self.exchange.position(event.user_id, event.ticker), event.user_id)

    # -- exchange / market data -----------------------------------------------------------------------------

    def get_exchange_status(self, req: Request) -> dict[str, Any]:
        return {"exchange_active": True, "trading_active": True, "intra_exchange_transfers_active": True}

    def get_exchange_schedule(self, req: Request) -> dict[str, Any]:
        day = [{"open_time": "00:00", "close_time": "23:59"}]
        week = {
            d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        }
        return {
            "schedule": {
                "standard_hours": [
                    {"start_time": "2020-01-01T00:00:00Z", "end_time": "2100-01-01T00:00:00Z", **week}
                ],
                "maintenance_windows": [],
            }
        }

    def _markets_filtered(self, req: Request) -> list[str]:
        """Tickers (sorted) of the markets that match GET /markets' filters.

        Ticker, event, series and status are read from the engine's objects; a market is serialised here only
        when a time bound needs its wire timestamps, so a page costs the serialisation of that page alone."""
        status = req.q("status")
        if status and status not in MARKET_STATUS_FILTER:
            raise bad_request(f"status must be one of {', '.join(MARKET_STATUS_FILTER)}")
        tickers = set(req.q_list("tickers"))
        event_ticker = req.q("event_ticker")
        series_ticker = req.q("series_ticker")
        bounds = {
            name: req.q_int(name)
            for name in (
                "min_close_ts",
                "max_close_ts",
                "min_created_ts",
                "max_created_ts",
                "min_updated_ts",
                "max_updated_ts",
                "min_settled_ts",
                "max_settled_ts",
            )
        }
        bounded = any(v is not None for v in bounds.values())
        statuses = MARKET_STATUS_FILTER[status] if status else None
        markets = self.exchange.markets
        out = []
        for ticker in sorted(markets):
            if tickers and ticker not in tickers:
                continue
            market = markets[ticker]
            if event_ticker and market.event_ticker != event_ticker:
                continue
            if series_ticker and self._series_of_event(market.event_ticker) != series_ticker:
                continue
            if statuses is not None and market.status not in statuses:
                continue
            if bounded and not self._in_bounds(self.market_json(ticker), bounds):
                continue
            out.append(ticker)
        return out

    @staticmethod
    def _in_bounds(m: dict[str, Any], bounds: dict[str, int | None]) -> bool:
        for field_name, lo_name, hi_name in (
            ("close_time", "min_close_ts", "max_close_ts"),
            ("created_time", "min_created_ts", "max_created_ts"),
            ("updated_time", "min_updated_ts", "max_updated_ts"),
            ("settlement_ts", "min_settled_ts", "max_settled_ts"),
        ):
            lo, hi = bounds[lo_name], bounds[hi_name]
            if lo is None and hi is None:
                continue
            ts = _rfc3339_to_ts(m.get(field_name))
            if ts is None or (lo is not None and ts < lo) or (hi is not None and ts > hi):
                return False
        return True

    def _series_of_event(self, event_ticker: str) -> str | None:
        event = self.exchange.events.get(event_ticker)
        return getattr(event, "series_ticker", None) if event is not None else None

    def get_markets(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=0, hi=1000) or 100
        tickers = self._markets_filtered(req)
        page, cursor = paginate(tickers, lambda t: [t], limit, req.q("cursor"))
        return {"markets": [self.market_json(t) for t in page], "cursor": cursor}

    def get_market(self, req: Request) -> dict[str, Any]:
        self._market(req.params["ticker"])
        return {"market": self.market_json(req.params["ticker"])}

    def _orderbook_fp(self, ticker: str, depth: int) -> dict[str, Any]:
        yes, no = self.exchange.book(ticker)
        return wire.orderbook_fp_json(yes, no, depth)

    def get_orderbook(self, req: Request) -> dict[str, Any]:
        ticker = req.params["ticker"]
        self._market(ticker)
        depth = max(req.q_int("depth", 0, hi=100) or 0, 0)  # 0 or negative = every level
        return {"orderbook_fp": self._orderbook_fp(ticker, depth)}

    def get_orderbooks(self, req: Request) -> dict[str, Any]:
        tickers = req.q_list("tickers")
        if not tickers:
            raise bad_request("tickers is required")
        if len(tickers) > 100:
            raise bad_request("at most 100 tickers")
        for ticker in tickers:
            self._market(ticker)
        return {"orderbooks": [{"ticker": t, "orderbook_fp": self._orderbook_fp(t, 0)} for t in tickers]}

    def get_trades(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=0, hi=1000) or 100
        ticker = req.q("ticker")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        trades = []
        for trade in self.exchange.trades(ticker):
            t = wire.trade_json(trade)
            ts = _rfc3339_to_ts(t.get("created_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            trades.append(t)
        page, cursor = paginate(
            trades,
            lambda t: _time_key(t, "created_time", "trade_id"),
            limit,
            req.q("cursor"),
            descending=True,
        )
        return {"trades": page, "cursor": cursor}

    def _event_json(self, event_ticker: str, nested: bool) -> dict[str, Any]:
        data = wire.event_json(self.exchange.events[event_ticker])
        if nested:
            data["markets"] = self._event_markets(event_ticker)
        return data

    def _event_markets(self, event_ticker: str) -> list[dict[str, Any]]:
        return [
            self.market_json(t)
            for t in sorted(self.exchange.markets)
            if getattr(self.exchange.markets[t], "event_ticker", None) == event_ticker
        ]

    def get_events(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 200, lo=1, hi=200) or 200
        status = req.q("status")
        if status and status not in ("unopened", "open", "closed", "settled"):
            raise bad_request("status must be one of unopened, open, closed, settled")
        series_ticker = req.q("series_ticker")
        tickers = set(req.q_list("tickers"))
        nested = req.q_bool("with_nested_markets")
        events = []
        for event_ticker in sorted(self.exchange.events):
            if tickers and event_ticker not in tickers:
                continue
            if series_ticker and self._series_of_event(event_ticker) != series_ticker:
                continue
            if status:
                markets = self._event_markets(event_ticker)
                if not any(m.get("status") in MARKET_STATUS_FILTER[status] for m in markets):
                    continue
            events.append(self._event_json(event_ticker, nested))
        page, cursor = paginate(events, lambda e: [e["event_ticker"]], limit, req.q("cursor"))
        return {"events": page, "cursor": cursor}

    def get_event(self, req: Request) -> dict[str, Any]:
        event_ticker = req.params["event_ticker"]
        if event_ticker not in self.exchange.events:
            raise not_found(f"event {event_ticker} not found")
        nested = req.q_bool("with_nested_markets")
        return {"event": self._event_json(event_ticker, nested), "markets": self._event_markets(event_ticker)}

    def get_series_list(self, req: Request) -> dict[str, Any]:
        category = req.q("category")
        out = [wire.series_json(self.exchange.series[s]) for s in sorted(self.exchange.series)]
        if category:
            out = [s for s in out if s.get("category") == category]
        return {"series": out}

    def get_series(self, req: Request) -> dict[str, Any]:
        series = self.exchange.series.get(req.params["series_ticker"])
        if series is None:
            raise not_found(f"series {req.params['series_ticker']} not found")
        return {"series": wire.series_json(series)}

    def _candle_args(self, req: Request) -> tuple[int, int, int]:
        start = req.q_int("start_ts")
        end = req.q_int("end_ts")
        period = req.q_int("period_interval")
        if start is None or end is None or period is None:
            raise bad_request("start_ts, end_ts and period_interval are required")
        if period not in (1, 60, 1440):
            raise bad_request("period_interval must be 1, 60 or 1440")
        if end < start:
            raise bad_request("end_ts must not be before start_ts")
        return start, end, period

    def get_candlesticks(self, req: Request) -> dict[str, Any]:
        ticker = req.params["ticker"]
        self._market(ticker)
        start, end, period = self._candle_args(req)
        return {"ticker": ticker, "candlesticks": self.exchange.candlesticks(ticker, start, end, period)}

    def get_batch_candlesticks(self, req: Request) -> dict[str, Any]:
        tickers = req.q_list("market_tickers")
        if not tickers:
            raise bad_request("market_tickers is required")
        if len(tickers) > 100:
            raise bad_request("at most 100 market_tickers")
        start, end, period = self._candle_args(req)
        for ticker in tickers:
            self._market(ticker)
        return {
            "markets": [
                {"market_ticker": t, "candlesticks": self.exchange.candlesticks(t, start, end, period)}
                for t in tickers
            ]
        }

    # -- portfolio reads ------------------------------------------------------------------------------------

    def get_balance(self, req: Request) -> dict[str, Any]:
        return wire.balance_json(self._account(req.user), self.exchange.now)

    def get_account_limits(self, req: Request) -> dict[str, Any]:
        return self.limiter.account_limits_json()

    def get_api_keys(self, req: Request) -> dict[str, Any]:
        keys = self.registry.of_user(req.user) if req.user else []
        return {
            "api_keys": [
                {"api_key_id": k.key_id, "name": k.name, "scopes": list(k.scopes)}
                for k in sorted(keys, key=lambda k: k.key_id)
            ]
        }

    def get_positions(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        account = self._account(req.user)
        ticker, event_ticker = req.q("ticker"), req.q("event_ticker")
        count_filter = req.q_list("count_filter")
        if any(c not in ("position", "total_traded") for c in count_filter):
            raise bad_request("count_filter accepts position and total_traded")
        settlement_status = req.q("settlement_status") or "unsettled"
        if settlement_status not in ("unsettled", "settled", "all"):
            raise bad_request("settlement_status must be unsettled, settled or all")
        positions = []
        for position in account.positions.values():
            if ticker and position.ticker != ticker:
                continue
            if event_ticker and position.event_ticker != event_ticker:
                continue
            if settlement_status == "unsettled" and position.settled:
                continue
            if settlement_status == "settled" and not position.settled:
                continue
            if count_filter:
                keep = ("position" in count_filter and position.position != 0) or (
                    "total_traded" in count_filter and position.total_traded != 0
                )
                if not keep:
                    continue
            positions.append(position)
        rows = [wire.market_position_json(p) for p in positions]
        page, cursor = paginate(rows, lambda p: [p["ticker"]], limit, req.q("cursor"))
        tickers = {p["ticker"] for p in page}
        shown = [p for p in positions if p.ticker in tickers]
        events = sorted({p.event_ticker for p in shown})
        return {
            "market_positions": page,
            "event_positions": [wire.event_position_json(e, shown) for e in events],
            "cursor": cursor,
        }

    def get_fills(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker, order_id = req.q("ticker"), req.q("order_id")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        rows = []
        for fill in self._account(req.user).fills:
            f = wire.fill_json(fill)
            if ticker and f["ticker"] != ticker:
                continue
            if order_id and f["order_id"] != order_id:
                continue
            ts = f.get("ts") or _rfc3339_to_ts(f.get("created_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(f)
        page, cursor = paginate(
            rows, lambda f: _time_key(f, "created_time", "fill_id"), limit, req.q("cursor"), descending=True
        )
        return {"fills": page, "cursor": cursor}

    def get_settlements(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker, event_ticker = req.q("ticker"), req.q("event_ticker")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        rows = []
        for settlement in self._account(req.user).settlements:
            s = wire.settlement_json(settlement)
            if ticker and s["ticker"] != ticker:
                continue
            if event_ticker and s["event_ticker"] != event_ticker:
                continue
            ts = _rfc3339_to_ts(s.get("settled_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(s)
        page, cursor = paginate(
            rows, lambda s: _time_key(s, "settled_time", "ticker"), limit, req.q("cursor"), descending=True
        )
        return {"settlements": page, "cursor": cursor}

    def get_orders(self, req: Request) -> dict[str, Any]:
        limit = req.q_int("limit", 100, lo=1, hi=1000) or 100
        ticker = req.q("ticker")
        event_tickers = set(req.q_list("event_ticker"))
        status = req.q("status")
        if status and status not in ORDER_STATUSES:
            raise bad_request("status must be resting, canceled or executed")
        min_ts, max_ts = req.q_int("min_ts"), req.q_int("max_ts")
        rows = []
        for order in self._orders_newest_first(req.user):
            o = wire.order_json(order)
            if ticker and o["ticker"] != ticker:
                continue
            if event_tickers and getattr(
                self.exchange.markets.get(o["ticker"]), "event_ticker", None
            ) not in (event_tickers):
                continue
            if status and o["status"] != status:
                continue
            ts = _rfc3339_to_ts(o.get("created_time")) or 0
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(o)
        page, cursor = paginate(
            rows, lambda o: _time_key(o, "created_time", "order_id"), limit, req.q("cursor"), descending=True
        )
        return {"orders": page, "cursor": cursor}

    def _orders_newest_first(self, user_id: str) -> list[Any]:
        orders = self._account(user_id).orders
        values = list(orders.values()) if isinstance(orders, dict) else list(orders)
        return list(reversed(values))

    def _own_order(self, user_id: str, order_id: str) -> Any:
        orders = self._account(user_id).orders
        if isinstance(orders, dict):
            order = orders.get(order_id)
        else:
            order = next((o for o in orders if o.order_id == order_id), None)
        if order is None:
            raise not_found(f"order {order_id} not found")
        return order

    def get_order(self, req: Request) -> dict[str, Any]:
        return {"order": wire.order_json(self._own_order(req.user, req.params["order_id"]))}

    # -- order writes (V2) ----------------------------------------------------------------------------------

    def _create_args(self, data: dict[str, Any]) -> dict[str, Any]:
        ticker = data.get("ticker")
        if not isinstance(ticker, str) or not ticker:
            raise bad_request("ticker is required")
        side = data.get("side")
        if side not in ("bid", "ask"):
            raise bad_request("side must be bid or ask")
        if "count" not in data:
            raise bad_request("count is required")
        count = _parse_count(data["count"])
        if "price" not in data:
            raise bad_request("price is required")
        price = _parse_price(data["price"])
        tif = data.get("time_in_force")
        if tif not in TIME_IN_FORCE:
            raise bad_request(f"time_in_force must be one of {', '.join(TIME_IN_FORCE)}")
        stp = data.get("self_trade_prevention_type")
        if stp not in STP_TYPES:
            raise bad_request(f"self_trade_prevention_type must be one of {', '.join(STP_TYPES)}")
        expiration = _opt(data, "expiration_time", int)
        if expiration is not None and not 0 < expiration < MAX_UNIX_SECONDS:
            raise bad_request("expiration_time must be a Unix timestamp in seconds")
        subaccount = _opt(data, "subaccount", int) or 0
        if subaccount < 0:
            raise bad_request("subaccount must be >= 0")
        _opt(data, "exchange_index", int)
        return {
            "ticker": ticker,
            "side": side,
            "count": count,
            "price": price,
            "time_in_force": tif,
            "self_trade_prevention_type": stp,
            "client_order_id": _opt(data, "client_order_id", str),
            "expiration_time": expiration,
            "post_only": bool(_opt(data, "post_only", bool)),
            "reduce_only": bool(_opt(data, "reduce_only", bool)),
            "cancel_order_on_pause": bool(_opt(data, "cancel_order_on_pause", bool)),
            "order_group_id": _opt(data, "order_group_id", str),
            "subaccount": subaccount,
        }

    def _place(self, user_id: str, data: dict[str, Any]) -> dict[str, Any]:
        args = self._create_args(data)
        self._market(args["ticker"])
        coid = args["client_order_id"]
        if coid and self.exchange.find_order_by_client_id(user_id, coid) is not None:
            raise ApiError(
                409, "order_already_exists", "order with this client_order_id already exists", coid
            )
        order = self.exchange.create_order(user_id, **args)
        return self._fill_summary(user_id, order)

    def _fill_summary(self, user_id: str, order: Any) -> dict[str, Any]:
        o = wire.order_json(order)
        out: dict[str, Any] = {
            "order_id": o["order_id"],
            "client_order_id": o.get("client_order_id") or "",
            "fill_count": o["fill_count_fp"],
            "remaining_count": o["remaining_count_fp"],
            "ts_ms": _ts_ms(),
        }
        fills = [wire.fill_json(f) for f in self._account(user_id).fills]
        fills = [f for f in fills if f["order_id"] == o["order_id"]]
        total = sum((Decimal(f["count_fp"]) for f in fills), Decimal(0))
        if total:
            price_key = "yes_price_dollars" if o.get("book_side", "bid") == "bid" else "no_price_dollars"
            notional = sum((Decimal(f[price_key]) * Decimal(f["count_fp"]) for f in fills), Decimal(0))
            fees = sum((Decimal(f["fee_cost"]) for f in fills), Decimal(0))
            out["average_fill_price"] = _fmt_dollars(notional / total)
            out["average_fee_paid"] = _fmt_dollars(fees / total)
        return out

    def create_order(self, req: Request) -> Response:
        return Response(201, self._place(req.user, req.json()))

    def _cancel(self, user_id: str, order_id: str) -> dict[str, Any]:
        self._own_order(user_id, order_id)
        order, reduced_by = self.exchange.cancel_order(user_id, order_id)
        o = wire.order_json(order)
        return {
            "order_id": o["order_id"],
            "client_order_id": o.get("client_order_id") or "",
            "reduced_by": _fmt_count(reduced_by),
            "ts_ms": _ts_ms(),
        }

    def cancel_order(self, req: Request) -> dict[str, Any]:
        return self._cancel(req.user, req.params["order_id"])

    def amend_order(self, req: Request) -> dict[str, Any]:
        data = req.json()
        order_id = req.params["order_id"]
        self._own_order(req.user, order_id)
        ticker = data.get("ticker")
        if not isinstance(ticker, str) or not ticker:
            raise bad_request("ticker is required")
        side = data.get("side")
        if side not in ("bid", "ask"):
            raise bad_request("side must be bid or ask")
        if "price" not in data or "count" not in data:
            raise bad_request("price and count are required")
        price = _parse_price(data["price"])
        count = _parse_count(data["count"])
        expiration = data.get("expiration_time")
        if expiration is not None and (
            not isinstance(expiration, int)
            or isinstance(expiration, bool)
            or not 0 <= expiration < MAX_UNIX_SECONDS
        ):
            raise bad_request("expiration_time must be a Unix timestamp in seconds (0 removes it)")
        order = self.exchange.amend_order(
            req.user,
            order_id,
            ticker=ticker,
            side=side,
            price=price,
            count=count,
            updated_client_order_id=_opt(data, "updated_client_order_id", str),
            expiration_time=expiration,
        )
        return self._fill_summary(req.user, order)

    def decrease_order(self, req: Request) -> dict[str, Any]:
        data = req.json()
        order_id = req.params["order_id"]
        self._own_order(req.user, order_id)
        has_by, has_to = data.get("reduce_by") is not None, data.get("reduce_to") is not None
        if has_by == has_to:
            raise bad_request("exactly one of reduce_by and reduce_to is required")
        if has_by:
            order = self.exchange.decrease_order(
                req.user, order_id, reduce_by=_parse_count(data["reduce_by"], "reduce_by")
            )
        else:
            raw = data["reduce_to"]
            if raw in ("0", "0.0", "0.00"):
                reduce_to = Decimal(0)
            else:
                reduce_to = _parse_count(raw, "reduce_to")
            order = self.exchange.decrease_order(req.user, order_id, reduce_to=reduce_to)
        o = wire.order_json(order)
        return {
            "order_id": o["order_id"],
            "client_order_id": o.get("client_order_id") or "",
            "remaining_count": o["remaining_count_fp"],
            "ts_ms": _ts_ms(),
        }

    @staticmethod
    def _item_error(exc: Exception) -> dict[str, str]:
        if isinstance(exc, ApiError):
            return exc.body()["error"]
        if isinstance(exc, ExchangeError):
            return {"code": exc.code, "message": exc.message, "details": exc.details}
        log.exception("batch item failed", exc_info=exc)
        return {"code": "internal_server_error", "message": "internal server error", "details": ""}

    def _batch_items(self, req: Request) -> list[Any]:
        data = req.json()
        orders = data.get("orders")
        if not isinstance(orders, list) or not orders:
            raise bad_request("orders must be a non-empty array")
        if len(orders) > 20 * 10:
            raise bad_request("too many orders in one batch")
        return orders

    def batch_create(self, req: Request) -> Response:
        results = []
        for item in self._batch_items(req):
            try:
                if not isinstance(item, dict):
                    raise bad_request("each order must be an object")
                results.append(self._place(req.user, item))
            except (ApiError, ExchangeError) as exc:
                entry: dict[str, Any] = {"error": self._item_error(exc)}
                if isinstance(item, dict) and isinstance(item.get("client_order_id"), str):
                    entry["client_order_id"] = item["client_order_id"]
                results.append(entry)
        return Response(201, {"orders": results})

    def batch_cancel(self, req: Request) -> dict[str, Any]:
        results = []
        for item in self._batch_items(req):
            order_id = item.get("order_id") if isinstance(item, dict) else None
            try:
                if not isinstance(order_id, str) or not order_id:
                    raise bad_request("order_id is required")
                results.append(self._cancel(req.user, order_id))
            except (ApiError, ExchangeError) as exc:
                results.append(
                    {
                        "order_id": order_id if isinstance(order_id, str) else "",
                        "reduced_by": "0.00",
                        "error": self._item_error(exc),
                    }
                )
        return {"orders": results}

    def cancel_all(self, req: Request) -> Response:
        self.exchange.cancel_all(req.user)
        return Response(204, None)
