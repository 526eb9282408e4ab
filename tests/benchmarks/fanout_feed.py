"""The feed side of the fan-out benchmark: publish each market update once, rendered, on kw:md:<ticker>.

    python fanout_feed.py --redis URL --tickers A,B,... --rate 10 --duration 18

Every market updates `rate` times a second; the markets are staggered evenly over the period (a real
feed's updates do not all land on the same millisecond). Each update embeds its sequence number and
its send time (time.monotonic()). After `duration` seconds the feed stops and publishes one last,
distinct update (sequence FINAL_SEQ) per market, then prints a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fanout_common import FINAL_SEQ, channel_prefix, frame_key, render_detail, render_row

from markets import framesign

KEY = frame_key()


def payload(ticker: str, seq: int) -> str:
    """Rendered and signed as markets.publish does it."""
    ts = time.monotonic()
    body = json.dumps(
        {
            "ticker": ticker,
            "ts": ts,
            "row": render_row(ticker, seq, ts),
            "detail": render_detail(ticker, seq, ts),
        }
    )
    return framesign.sign(KEY, ticker, body)


def run(redis_url: str, tickers: list[str], rate: float, duration: float) -> dict[str, float]:
    client = redis.Redis.from_url(redis_url)
    client.ping()
    period = 1.0 / (rate * len(tickers))
    seqs = dict.fromkeys(tickers, 0)
    start = time.monotonic()
    end = start + duration
    i = 0
    worst_lag = 0.0
    published = 0
    while True:
        due = start + i * period
        if due >= end:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        else:
            worst_lag = max(worst_lag, now - due)
        ticker = tickers[i % len(tickers)]
        seqs[ticker] += 1
        client.publish(channel_prefix(redis_url) + ticker, payload(ticker, seqs[ticker]))
        published += 1
        i += 1
    time.sleep(0.25)  # let the last regular updates drain before the final ones
    for ticker in tickers:
        client.publish(channel_prefix(redis_url) + ticker, payload(ticker, FINAL_SEQ))
    client.close()
    return {
        "published": published,
        "elapsed": time.monotonic() - start,
        "worst_lag_ms": worst_lag * 1000,
        "cpu_s": time.process_time(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--tickers", required=True)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args(argv)
    result = run(args.redis, [t for t in args.tickers.split(",") if t], args.rate, args.duration)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
