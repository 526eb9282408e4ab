"""The ceiling of the fan-out benchmark: a bare `websockets` server, no Django, no Channels, no ASGI.

    REDIS_URL=... python fanout_ceiling.py --port N

One Redis subscription for the process (same redis-py client and read loop shape as markets.hub),
each update verified (its signature, as markets.hub does) and parsed once, its row HTML pushed with
`websockets.broadcast()` to the sockets watching that market: `/ws/markets/?tickers=A,B`. No conflation, no authentication, no per-socket task.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
import websockets
from fanout_common import channel_prefix, frame_key
from websockets.asyncio.server import ServerConnection, serve

from markets import framesign


async def amain(host: str, port: int, redis_url: str) -> None:
    prefix = channel_prefix(redis_url)
    key = frame_key()
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    # Snapshots on connect: a bounded pool (redis-py's async pool raises MaxConnectionsError past 100).
    snapshots = aioredis.Redis(
        connection_pool=aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=32)
    )
    watchers: dict[str, set[ServerConnection]] = defaultdict(set)
    lock = asyncio.Lock()

    async def handler(ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        tickers = list(dict.fromkeys(t for t in ",".join(query.get("tickers", [])).split(",") if t))
        async with lock:
            new = [t for t in tickers if not watchers.get(t)]
            for t in tickers:
                watchers[t].add(ws)
            if new:
                await pubsub.subscribe(*(prefix + t for t in new))
        try:
            raw = await snapshots.mget([f"kw:frag:{t}" for t in tickers]) if tickers else []
            for ticker, payload in zip(tickers, raw, strict=True):
                body = None if payload is None else framesign.verify(key, ticker, payload)
                if body is not None:
                    # broadcast() rather than send(): never blocks on a socket that does not read.
                    websockets.broadcast([ws], json.loads(body)["row"])
            await ws.wait_closed()
        finally:
            async with lock:
                gone = []
                for t in tickers:
                    group = watchers.get(t)
                    if group is not None:
                        group.discard(ws)
                        if not group:
                            del watchers[t]
                            gone.append(t)
                if gone:
                    await pubsub.unsubscribe(*(prefix + t for t in gone))

    async def read_loop() -> None:
        while True:
            if not pubsub.subscribed:
                await asyncio.sleep(0.05)
                continue
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            ticker = message["channel"].decode().removeprefix(prefix)
            group = watchers.get(ticker)
            if not group:
                continue
            body = framesign.verify(key, ticker, message["data"])
            if body is None:
                continue
            update = json.loads(body)
            websockets.broadcast(group, update["row"])

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.create_task(read_loop())
    async with serve(handler, host, port, compression=None, max_size=2**16):
        await stop.wait()
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    await client.aclose()
    await snapshots.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(amain(args.host, args.port, os.environ["REDIS_URL"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
