"""The REST client's transport (protocol §6): one pooled ``httpx.AsyncClient``, signing, rate limiting,
retries and pagination. The endpoints are `rest.KalshiClient`'s methods, built on `RestTransport`.

Retry policy, in one place (``RestTransport._request``):

* GET: 429, 5xx, timeouts and connection errors are retried with exponential backoff and full jitter, up to
  ``max_attempts``; then the error is raised.
* Writes (POST/DELETE/PUT) are **never** resent blindly. A 429 raises ``RateLimited(retryable=True)`` unless
  the caller passed ``retry_on_429=True`` (safe: a 429 means the exchange did not act). A connection that
  failed before anything was sent raises ``ExchangeUnavailable``. Anything after sending — a timeout, a reset,
  a 5xx — raises ``OutcomeUnknown`` carrying the ``client_order_id``; reconcile with ``find_order``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx

from .auth import KalshiSigner
from .errors import ExchangeUnavailable, OutcomeUnknown, ProtocolError, error_from_response
from .models import page_of
from .ratelimit import DEFAULT_COST, Bucket, RateLimiter
from .types.groups import CostTable

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KalshiEnvironment:
    rest_base: str
    ws_url: str


PRODUCTION = KalshiEnvironment(
    "https://external-api.kalshi.com/trade-api/v2", "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
)
DEMO = KalshiEnvironment(
    "https://external-api.demo.kalshi.co/trade-api/v2", "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
)

# Called after every request that went on the wire, as (method, path, status), status None when no answer
# came back (the application registers its metrics here; the client itself records nothing).
response_observers: list[Callable[[str, str, int | None], None]] = []


def _observe(method: str, path: str, status: int | None) -> None:
    for observer in response_observers:
        try:
            observer(method, path, status)
        except Exception:  # an observer's failure never fails a request
            log.exception("response observer failed")


# Failures that happen before the request left this machine: safe to report as "nothing happened".
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def make_signer(
    key_id: str | None, private_key: str | bytes | Path | None, signer: KalshiSigner | None
) -> KalshiSigner | None:
    if signer is not None:
        return signer
    if key_id and private_key:
        return KalshiSigner.load(key_id, private_key)
    if key_id or private_key:
        raise ValueError("both key_id and private_key are needed to sign requests")
    return None


def _query(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, datetime):
            out[key] = int(value.timestamp())
        elif isinstance(value, Decimal):
            out[key] = str(value)
        else:
            out[key] = value
    return out


def _csv(values: str | Sequence[str] | None) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        return values
    return ",".join(values)


class RestTransport:
    """The connection, the signer and the request loop every endpoint goes through (see the module docstring
    for the retry policy). Build one client per process and reuse it: it owns a connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        key_id: str | None = None,
        private_key: str | bytes | Path | None = None,
        signer: KalshiSigner | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        limiter: RateLimiter | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        sign_public: bool = True,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._signer = make_signer(key_id, private_key, signer)
        self.limiter = limiter
        # Per-endpoint token costs (``GET /account/endpoint_costs``, see ``load_endpoint_costs``); None: the
        # documented defaults (10 a request, batches per item as the callers pass).
        self.cost_table: CostTable | None = None
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sign_public = sign_public
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"Accept": "application/json", "User-Agent": "kalshiweb/0.1"},
            transport=transport,
        )

    @property
    def key_id(self) -> str | None:
        return self._signer.key_id if self._signer else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, key_id={self.key_id!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- transport --------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(cap, base · 2^attempt))."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))

    def _build(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any, signed: bool
    ) -> httpx.Request:
        content = None
        headers: dict[str, str] = {}
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method, path.lstrip("/"), params=_query(params or {}), content=content, headers=headers
        )
        if signed and self._signer is not None:
            # Sign exactly the path that goes on the wire (with the /trade-api/v2 prefix, no query).
            raw_path = request.url.raw_path.decode("ascii").split("?", 1)[0]
            request.headers.update(self._signer.headers(method, raw_path))
        return request

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        bucket: Bucket | None = None,
        cost: int | None = None,
        signed: bool = True,
        retry_on_429: bool = False,
        client_order_id: str | None = None,
    ) -> Any:
        method = method.upper()
        is_read = method == "GET"
        bucket = bucket or ("read" if is_read else "write")
        if cost is None:
            cost = self.cost_table.cost(method, path) if self.cost_table is not None else DEFAULT_COST
        attempt = 0
        while True:
            attempt += 1
            if self.limiter is not None:
                await self.limiter.acquire(bucket, cost)
            request = self._build(method, path, params, body, signed or self.sign_public)
            can_retry = attempt < self.max_attempts
            try:
                response = await self._http.send(request)
            except _NOT_SENT as exc:
                log.warning("kalshi %s %s: not sent (%s)", method, path, type(exc).__name__)
                if is_read and can_retry:
                    await self._sleep(attempt)
                    continue
                raise ExchangeUnavailable(f"could not reach the exchange ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                _observe(method, path, None)
                log.warning("kalshi %s %s: no response (%s)", method, path, type(exc).__name__)
                if is_read:
                    if can_retry:
                        await self._sleep(attempt)
                        continue
                    raise ExchangeUnavailable(
                        f"no response from the exchange ({type(exc).__name__})"
                    ) from None
                raise OutcomeUnknown(
                    f"{method} {path}: the request was sent but no response came back ({type(exc).__name__})",
                    client_order_id=client_order_id,
                ) from None

            status = response.status_code
            _observe(method, path, status)
            log.debug("kalshi %s %s -> %s", method, path, status)
            if status < 300:
                return self._decode(response, method, path, client_order_id)
            if status == 429 and (is_read or retry_on_429) and can_retry:
                await self._sleep(attempt, response.headers.get("retry-after"))
                continue
            if status >= 500:
                if is_read and can_retry:
                    await self._sleep(attempt)
                    continue
                if not is_read:
                    raise OutcomeUnknown(
                        f"{method} {path}: HTTP {status} after sending; the write may have happened",
                        client_order_id=client_order_id,
                        http_status=status,
                        details=response.text[:500],
                    )
            raise error_from_response(
                status, response.content, headers=response.headers, client_order_id=client_order_id
            )

    async def _sleep(self, attempt: int, retry_after: str | None = None) -> None:
        delay = self._backoff(attempt - 1)
        if retry_after:  # Kalshi sends none today; honour it if that changes
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), self.backoff_cap))
        await asyncio.sleep(delay)

    @staticmethod
    def _decode(response: httpx.Response, method: str, path: str, client_order_id: str | None) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            if method != "GET":
                raise OutcomeUnknown(
                    f"{method} {path}: HTTP {response.status_code} with an unreadable body",
                    client_order_id=client_order_id,
                ) from None
            raise ProtocolError(f"{method} {path}: response is not JSON", obj=path) from None

    async def _get(self, path: str, params: Mapping[str, Any] | None = None, *, signed: bool = False) -> Any:
        return await self._request("GET", path, params=params, signed=signed)

    async def _paginate(
        self,
        path: str,
        key: str,
        parse: Callable[[Any], T],
        params: Mapping[str, Any],
        obj: str,
        *,
        signed: bool = False,
        cursor_required: bool = True,
    ) -> AsyncGenerator[T]:
        cursor = params.get("cursor")
        seen: set[str] = set()
        while True:
            data = await self._get(path, {**params, "cursor": cursor}, signed=signed)
            page = page_of(obj, key, data, parse, cursor_required=cursor_required)
            for item in page.items:
                yield item
            if not page.cursor or not page.items:
                return
            if page.cursor in seen:
                raise ProtocolError(f"{obj}: cursor {page.cursor!r} repeated", obj=obj, field="cursor")
            seen.add(page.cursor)
            cursor = page.cursor
