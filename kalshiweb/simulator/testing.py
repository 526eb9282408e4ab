"""Run the simulator in-process for tests: a real uvicorn server on a loopback port, in a daemon thread.

    with start_simulator(seed=1) as sim:
        key_id, private_pem = sim.add_account(Decimal("500"))
        httpx.get(sim.rest_base + "/markets")
        sim.call(sim.exchange.settle_market, "SOME-TICKER", "yes")

The engine is single-threaded and lives on the simulator's loop: touch ``sim.exchange`` only through
``sim.call``. ``sim.faults`` may be used from any thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from .auth import generate_rsa_key_pair
from .engine import Exchange
from .faults import Faults
from .runner import bind_socket, build_app, make_server
from .server import SimulatorApp

T = TypeVar("T")

# Tests-only hook: when set, every simulator started here serves ``app_wrapper(app)`` instead of ``app`` (an
# ASGI wrapper that sees each request and reply). The test suite sets it to check the simulator's responses
# and messages against Kalshi's OpenAPI/AsyncAPI files (tests/spec/plugin.py); None otherwise.
app_wrapper: Callable[[SimulatorApp], Any] | None = None


@dataclass
class RunningSimulator:
    host: str
    port: int
    rest_base: str
    ws_url: str
    exchange: Exchange
    faults: Faults
    app: SimulatorApp
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the simulator loop thread and return its result (or raise)."""

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    def add_account(
        self, balance: Decimal | None = None, *, scopes: tuple[str, ...] = ("read", "write")
    ) -> tuple[str, bytes]:
        """A new account with a fresh RSA-2048 key: returns (key_id, private key PEM)."""
        private_pem, public_pem = generate_rsa_key_pair()
        key_id = self.call(self.app.register_key, public_pem, balance=balance, scopes=scopes)
        return key_id, private_pem

    def add_public_key(
        self, public_pem: bytes, balance: Decimal | None = None, key_id: str | None = None
    ) -> str:
        """Register a key you generated yourself (RSA or Ed25519 SPKI PEM); returns its key_id."""
        return self.call(self.app.register_key, public_pem, key_id=key_id, balance=balance)

    def user_id(self, key_id: str) -> str:
        api_key = self.app.registry.get(key_id)
        if api_key is None:
            raise KeyError(key_id)
        return api_key.user_id


@contextmanager
def start_simulator(
    *,
    seed: int = 1,
    activity: float = 0.0,
    rate_limit_tier: str | None = "basic",
    ping_interval: float = 10.0,
    timestamp_window_s: float = 30.0,
    host: str = "127.0.0.1",
    port: int = 0,
    default_balance: Decimal | None = None,
    catalog: bool = True,
) -> Iterator[RunningSimulator]:
    """``catalog=False`` starts with no markets (add your own with ``sim.call(sim.exchange.add_market, ...)``)."""
    app = build_app(
        catalog=catalog,
        seed=seed,
        activity=activity,
        rate_limit_tier=rate_limit_tier,
        timestamp_window_s=timestamp_window_s,
        default_balance=default_balance,
    )
    sock = bind_socket(host, port)
    port = sock.getsockname()[1]
    server = make_server(app, host=host, port=port, ping_interval=ping_interval)
    if app_wrapper is not None:
        server.config.app = app_wrapper(app)
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    async def main() -> None:
        app.start()
        try:
            await server.serve(sockets=[sock])
        finally:
            await app.stop()

    def thread_main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=thread_main, name=f"kalshi-sim-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError("simulator failed to start") from (failure[0] if failure else None)
        if time.monotonic() > deadline:
            raise RuntimeError("simulator did not start within 15 s")
        time.sleep(0.01)
    with socket.create_connection((host, port), timeout=5):
        pass
    url_host = f"[{host}]" if ":" in host else host
    sim = RunningSimulator(
        host=host,
        port=port,
        rest_base=f"http://{url_host}:{port}/trade-api/v2",
        ws_url=f"ws://{url_host}:{port}/trade-api/ws/v2",
        exchange=app.exchange,
        faults=app.faults,
        app=app,
        loop=loop,
    )
    try:
        yield sim
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
