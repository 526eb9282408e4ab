"""Django glue for the Kalshi client: build clients from settings (the client itself never reads them)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from django.conf import settings

from kalshiweb.kalshi.rest import KalshiClient


def default_credentials() -> tuple[str | None, Path | None]:
    """The deployment's own key (used for market data): KALSHI_API_KEY_ID + KALSHI_PRIVATE_KEY_PATH."""
    key_id = settings.KALSHI_API_KEY_ID or None
    path = Path(settings.KALSHI_PRIVATE_KEY_PATH) if settings.KALSHI_PRIVATE_KEY_PATH else None
    if key_id and path is not None and path.exists():
        return key_id, path
    return None, None


def make_client(**overrides: Any) -> KalshiClient:
    key_id, path = default_credentials()
    kwargs: dict[str, Any] = {"key_id": key_id, "private_key": path}
    kwargs.update(overrides)
    return KalshiClient(settings.KALSHI_API_BASE, **kwargs)


def run_blocking[T](make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code — also when this thread already runs an
    event loop (an ASGI worker thread, a test driving a browser), by using a short-lived thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()
