"""A thin synchronous wrapper over ``KalshiClient`` for Celery tasks and management commands.

Each ``KalshiSyncClient`` owns a private event loop (``asyncio.Runner``) on which the async client and its
connection pool live, so keep-alive connections are reused across calls. One instance per process/thread;
do not share an instance between threads.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from .rest import KalshiClient


class KalshiSyncClient:
    """Same methods as ``KalshiClient``; coroutines run to completion, ``iter_*`` return plain iterators."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        # The httpx client must be created on the loop that will use it.
        self._client: KalshiClient = self._runner.run(self._make(base_url, kwargs))

    @staticmethod
    async def _make(base_url: str, kwargs: dict[str, Any]) -> KalshiClient:
        return KalshiClient(base_url, **kwargs)

    @property
    def client(self) -> KalshiClient:
        return self._client

    def __repr__(self) -> str:
        return f"KalshiSyncClient({self._client!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._client, name)
        if inspect.iscoroutinefunction(attr):
            return self._wrap_coroutine(attr)
        if name.startswith("iter_") and callable(attr):
            return self._wrap_iterator(attr)
        return attr

    def _wrap_coroutine(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(fn(*args, **kwargs))

        return call

    def _wrap_iterator(self, fn: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
        @functools.wraps(fn)
        def iterate(*args: Any, **kwargs: Any) -> Iterator[Any]:
            agen = fn(*args, **kwargs)
            try:
                while True:
                    try:
                        yield self._runner.run(agen.__anext__())
                    except StopAsyncIteration:
                        return
            finally:
                self._runner.run(agen.aclose())

        return iterate

    def close(self) -> None:
        try:
            self._runner.run(self._client.aclose())
        finally:
            self._runner.close()

    def __enter__(self) -> KalshiSyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
