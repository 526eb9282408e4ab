"""Helpers for the simulator's network tests: a tiny request signer, a signed httpx client, WS helpers and a
small deterministic market set (the real Kalshi client lives in kalshiweb/kalshi and is tested there)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import websockets
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from kalshiweb.simulator.engine import Event, Market, Series
from kalshiweb.simulator.testing import RunningSimulator

WS_PATH = "/trade-api/ws/v2"
API = "/trade-api/v2"
TICKERS = [f"KXSIM-26DEC31-T{i}" for i in range(7)]
EVENT = "KXSIM-26DEC31"
SERIES = "KXSIM"


@functools.lru_cache(maxsize=256)
def load_key(private_pem: bytes) -> Any:
    return serialization.load_pem_private_key(private_pem, password=None)


def sign_headers(
    key_id: str,
    private_pem: bytes,
    method: str,
    path: str,
    *,
    ts_ms: int | None = None,
    salt_length: int | Any = 32,
) -> dict[str, str]:
    key = load_key(private_pem)
    ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
    message = (ts + method.upper() + path).encode()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(message)
    else:
        signature = key.sign(  # type: ignore[union-attr]
            message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt_length), hashes.SHA256()
        )
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode(),
    }


def add_markets(sim: RunningSimulator, tickers: list[str] = TICKERS, event: str = EVENT) -> list[str]:
    """A series, an event and open markets with known tickers (for catalog=False simulators)."""

    def setup() -> None:
        ex = sim.exchange
        now = ex.now
        if SERIES not in ex.series:
            ex.add_series(Series(SERIES, "Simulator test series", "Economics"))
        if event not in ex.events:
            ex.add_event(Event(event, SERIES, f"Simulator test event {event}"))
        for ticker in tickers:
            if ticker not in ex.markets:
                ex.add_market(
                    Market(
                        ticker,
                        event,
                        SERIES,
                        f"Market {ticker}",
                        "Yes",
                        "No",
                        now - timedelta(hours=1),
                        now + timedelta(days=2),
                    )
                )

    sim.call(setup)
    return tickers


class Trader:
    """A signed httpx client for one simulator account."""

    def __init__(self, sim: RunningSimulator, balance: Decimal | None = Decimal("1000")) -> None:
        self.sim = sim
        self.key_id, self.private_pem = sim.add_account(balance)
        self.user_id = sim.user_id(self.key_id)
        self.http = httpx.Client(base_url=sim.rest_base, timeout=10)

    def request(self, method: str, path: str, *, body: Any = None, params: Any = None) -> httpx.Response:
        headers = sign_headers(self.key_id, self.private_pem, method, API + path.split("?")[0])
        content = None
        if body is not None:
            content = body if isinstance(body, str | bytes) else json.dumps(body)
            headers["content-type"] = "application/json"
        return self.http.request(method, path, headers=headers, params=params, content=content)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.request("POST", path, body=body)

    def delete(self, path: str, body: Any = None) -> httpx.Response:
        return self.request("DELETE", path, body=body)

    def order(self, ticker: str, side: str, count: str, price: str, **extra: Any) -> httpx.Response:
        body = {
            "ticker": ticker,
            "side": side,
            "count": count,
            "price": price,
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "taker_at_cross",
            **extra,
        }
        return self.post("/portfolio/events/orders", body)

    def ws_headers(self) -> dict[str, str]:
        return sign_headers(self.key_id, self.private_pem, "GET", WS_PATH)

    def connect(self, **kwargs: Any) -> Any:
        return websockets.connect(self.sim.ws_url, additional_headers=self.ws_headers(), **kwargs)

    def close(self) -> None:
        self.http.close()


async def recv(ws: Any, wait: float = 3.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), wait))


async def recv_until(ws: Any, predicate: Any, wait: float = 3.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise TimeoutError("no matching message")
        msg = await recv(ws, left)
        if predicate(msg):
            return msg


async def drain(ws: Any, quiet: float = 0.3) -> list[dict[str, Any]]:
    """Every message that arrives until the socket has been quiet for ``quiet`` seconds."""
    out = []
    while True:
        try:
            out.append(await recv(ws, quiet))
        except TimeoutError:
            return out


async def send(ws: Any, payload: Any) -> None:
    await ws.send(payload if isinstance(payload, str) else json.dumps(payload))


def utcnow() -> datetime:
    return datetime.now(UTC)


class RawWs:
    """A bare WebSocket client (websockets' sans-I/O protocol over asyncio streams) that shows control frames:
    lets tests see the server's Ping payloads. Pongs are answered automatically by the protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, protocol: Any) -> None:
        self.reader, self.writer, self.protocol = reader, writer, protocol
        self.pending: list[Any] = []

    @classmethod
    async def open(cls, url: str, headers: dict[str, str]) -> RawWs:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        uri = parse_uri(url)
        reader, writer = await asyncio.open_connection(uri.host, uri.port)
        protocol = ClientProtocol(uri)
        request = protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        protocol.send_request(request)
        raw = cls(reader, writer, protocol)
        raw.flush()
        response = await raw.next_event()
        assert getattr(response, "status_code", None) == 101, response
        return raw

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)

    async def next_event(self, wait: float = 3.0) -> Any:
        while True:
            if self.pending:
                return self.pending.pop(0)
            self.pending.extend(self.protocol.events_received())
            if self.pending:
                continue
            data = await asyncio.wait_for(self.reader.read(65536), wait)
            if not data:
                self.protocol.receive_eof()
            else:
                self.protocol.receive_data(data)
            self.flush()

    async def frames(self, seconds: float) -> list[Any]:
        """Every frame received during ``seconds``."""
        out = []
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                out.append(await self.next_event(left))
            except TimeoutError:
                break
        return out

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self.flush()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
