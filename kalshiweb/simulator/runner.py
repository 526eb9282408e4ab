"""Building and serving the simulator with uvicorn (no Django needed).

``python manage.py kalshi_sim`` calls :func:`run`; tests use :mod:`kalshiweb.simulator.testing`, which shares
:func:`build_app` and :func:`make_server`.

The uvicorn WebSocket protocol is subclassed for two Kalshi behaviours ASGI cannot express: the server's
keep-alive Ping carries the payload ``b"heartbeat"``, and the app gets a handle to abort a connection's
transport (used by the drop-connections fault). HTTP connections are found through uvicorn's connection set
for the timeout-after-accept fault.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .engine import Exchange
from .faults import Faults
from .server import SimulatorApp

log = logging.getLogger(__name__)

HEARTBEAT = b"heartbeat"


class KalshiWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.handshake_complete:
            scope["extensions"]["kalshi.sim.transport"] = {"abort": self.transport.abort}

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True  # a denied handshake is complete too (avoids a bogus error log)

    def send_keepalive_ping(self) -> None:
        self.ping_timer = None
        if self.close_sent or self.transport.is_closing():
            return
        self.pending_ping_payload = HEARTBEAT
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(HEARTBEAT)
        self.transport.write(b"".join(self.conn.data_to_send()))
        if self.ping_timeout is not None:
            self.pong_timer = self.loop.call_later(self.ping_timeout, self.keepalive_timeout)
        else:
            self.schedule_ping()


def build_app(
    *,
    seed: int = 1,
    activity: float = 0.0,
    rate_limit_tier: str | None = "basic",
    timestamp_window_s: float = 30.0,
    default_balance: Decimal | None = None,
    faults: Faults | None = None,
    exchange: Exchange | None = None,
    catalog: bool = True,
) -> SimulatorApp:
    if exchange is None:
        kwargs: dict[str, Any] = {"seed": seed, "activity": activity, "catalog": catalog}
        if default_balance is not None:
            kwargs["default_balance"] = default_balance
        exchange = Exchange(**kwargs)
    return SimulatorApp(
        exchange,
        faults=faults,
        rate_limit_tier=rate_limit_tier,
        timestamp_window_s=timestamp_window_s,
        default_balance=default_balance,
    )


def make_server(app: SimulatorApp, *, host: str, port: int, ping_interval: float = 10.0) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        http="h11",
        ws=KalshiWebSocketProtocol,
        ws_ping_interval=ping_interval,
        ws_ping_timeout=max(30.0, ping_interval * 3),
        ws_per_message_deflate=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
        date_header=False,  # the app sends the exchange's own Date (it can run skewed: the clock-skew fault)
    )
    server = uvicorn.Server(config)

    def lookup(client: Sequence[Any] | None) -> Callable[[], None] | None:
        if not client:
            return None
        for conn in list(server.server_state.connections):
            if getattr(conn, "client", None) == tuple(client):
                return conn.transport.abort
        return None

    app.transport_lookup = lookup
    return server


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(
        family, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )  # proto matters: asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class RunConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    seed: int = 1
    activity: float = 1.0
    balance: Decimal | None = None
    rate_limit_tier: str | None = "basic"
    ping_interval: float = 10.0
    timestamp_window_s: float = 30.0
    api_keys: list[tuple[str, Path]] = field(default_factory=list)  # (key_id, public key PEM file)


def parse_api_key(spec: str) -> tuple[str, Path]:
    """``KEY_ID=path/to/public.pem`` -> (key_id, path)."""
    key_id, sep, path = spec.partition("=")
    if not sep or not key_id or not path:
        raise ValueError(f"--api-key expects KEY_ID=PUBLIC_KEY.pem, got {spec!r}")
    return key_id.strip(), Path(path.strip())


def run(config: RunConfig) -> None:
    """Serve in the foreground until Ctrl-C."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(
        seed=config.seed,
        activity=config.activity,
        rate_limit_tier=config.rate_limit_tier,
        timestamp_window_s=config.timestamp_window_s,
        default_balance=config.balance,
    )
    for key_id, path in config.api_keys:
        app.register_key(path.read_bytes(), key_id=key_id)
        log.info("registered API key %s (%s)", key_id, path)
    sock = bind_socket(config.host, config.port)
    port = sock.getsockname()[1]
    server = make_server(app, host=config.host, port=port, ping_interval=config.ping_interval)
    log.info("Kalshi simulator: REST http://%s:%d/trade-api/v2", config.host, port)
    log.info("Kalshi simulator: WS   ws://%s:%d/trade-api/ws/v2", config.host, port)
    log.info(
        "%d markets, %d API keys, rate limits: %s",
        len(app.exchange.markets),
        len(app.registry),
        config.rate_limit_tier or "off",
    )

    async def main() -> None:
        app.start()
        try:
            await server.serve(sockets=[sock])
        finally:
            await app.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
