"""Order-book delta throughput: kalshiweb.kalshi.book.OrderBook vs a naive list re-sorted on every delta.

Run: ``.venv/bin/python tests/benchmarks/bench_book.py`` (not a test). Prints markdown table rows measured in
one run, so the ratio is meaningful even when absolute numbers move with the machine.
"""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kalshiweb.kalshi.book import OrderBook
from kalshiweb.kalshi.messages import OrderbookDelta, decode_message

D = Decimal


class NaiveBook:
    """The baseline: a list of [price, size] per side, re-sorted after every delta."""

    def __init__(self, yes: list[tuple[Decimal, Decimal]], no: list[tuple[Decimal, Decimal]]) -> None:
        self.sides = {"yes": [list(x) for x in yes], "no": [list(x) for x in no]}

    def apply_delta(self, side: str, price: Decimal, delta: Decimal) -> None:
        levels = self.sides[side]
        for level in levels:
            if level[0] == price:
                level[1] += delta
                break
        else:
            levels.append([price, delta])
        levels[:] = [lv for lv in levels if lv[1] > 0]
        levels.sort(key=lambda lv: lv[0])

    def best(self, side: str) -> Decimal | None:
        levels = self.sides[side]
        return levels[-1][0] if levels else None


def make_workload(tick: Decimal, n_deltas: int, seed: int = 7):
    """A realistic book: YES bids below 0.50, NO bids below 0.50 (NO leg), sizes 1–500, deltas mostly within
    10 ticks of the top, a quarter of them removing a whole level or adding a new one."""
    rng = random.Random(seed)
    steps = int(D("0.49") / tick)
    yes = {tick * i: D(rng.randint(1, 500)) for i in range(1, steps + 1)}
    no = {tick * i: D(rng.randint(1, 500)) for i in range(1, steps + 1)}
    sides = {"yes": dict(yes), "no": dict(no)}
    deltas = []
    for _ in range(n_deltas):
        side = rng.choice(("yes", "no"))
        book = sides[side]
        top = steps - min(int(rng.expovariate(0.3)), steps - 1)
        price = tick * top
        size = book.get(price, D(0))
        r = rng.random()
        if size and r < 0.15:
            delta = -size  # level removed
        elif size and r < 0.6:
            delta = -D(rng.randint(1, int(size)))
        else:
            delta = D(rng.randint(1, 200))
        new = size + delta
        if new == 0:
            book.pop(price, None)
        else:
            book[price] = new
        deltas.append((side, price, delta))
    return sorted(yes.items()), sorted(no.items()), deltas


def rate(fn, deltas) -> float:
    start = time.perf_counter()
    for side, price, delta in deltas:
        fn(side, price, delta)
    return len(deltas) / (time.perf_counter() - start)


def bench(tick: Decimal, n: int) -> list[str]:
    yes, no, deltas = make_workload(tick, n)
    # fresh books per repetition so every run applies the same sequence; the naive book gets a slice
    # (it is slow), which is fair because its cost per delta does not depend on how many came before.
    runs_ours, runs_naive = [], []
    for _ in range(3):
        ours = OrderBook.from_levels("BENCH", yes, no)
        runs_ours.append(rate(ours.apply_delta, deltas))
        naive = NaiveBook(yes, no)
        runs_naive.append(rate(naive.apply_delta, deltas[: max(1000, n // 10)]))
    ours_rate, naive_rate = max(runs_ours), max(runs_naive)
    assert ours.levels()[0] == tuple(naive_sorted(yes, deltas, "yes")), "the two books disagree"
    # decode + seq check + apply, the stream's hot path for one JSON frame (KalshiStream._on_frame)
    frames = [
        json.dumps(
            {
                "type": "orderbook_delta",
                "sid": 1,
                "seq": i + 1,
                "msg": {
                    "market_ticker": "BENCH",
                    "market_id": "m",
                    "price_dollars": f"{price:.4f}",
                    "delta_fp": f"{delta:.2f}",
                    "side": side,
                    "ts_ms": 1_700_000_000_000 + i,
                },
            }
        )
        for i, (side, price, delta) in enumerate(deltas)
    ]
    best = 0.0
    for _ in range(3):
        book = OrderBook.from_levels("BENCH", yes, no)
        last = 0
        start = time.perf_counter()
        for raw in frames:
            msg = decode_message(raw)
            if not isinstance(msg, OrderbookDelta) or msg.seq != last + 1:
                raise AssertionError("gap")
            last = msg.seq
            book.apply_delta(msg.side, msg.price, msg.delta)
        best = max(best, len(frames) / (time.perf_counter() - start))
    levels = len(yes) + len(no)
    label = f"{tick} tick, {levels} levels"
    return [
        f"| {label} | {ours_rate:,.0f} | {naive_rate:,.0f} | {ours_rate / naive_rate:,.1f}× | {best:,.0f} | {1e6 / best:.1f} µs |"
    ]


def naive_sorted(yes, deltas, side) -> list[tuple[Decimal, Decimal]]:
    book = NaiveBook(yes, [])
    for s, p, d in deltas:
        if s == side:
            book.apply_delta(s, p, d)
    return [(lv[0], lv[1]) for lv in book.sides[side]]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    lines = [
        "## Order book deltas",
        "",
        f"Python {platform.python_version()} on {platform.machine()}, {n:,} deltas per run, best of 3 "
        "(`python tests/benchmarks/bench_book.py`). Baseline: a naive book that re-sorts its level list on every delta.",
        "",
        "| book | OrderBook deltas/s | naive re-sort deltas/s | speed-up | JSON parse+seq+apply frames/s | per frame |",
        "|---|---|---|---|---|---|",
    ]
    for tick in (D("0.01"), D("0.001")):
        lines.extend(bench(tick, n))
    report = "\n".join(lines)
    print(report)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.benchmarks.docs_section import write_section

    write_section("## Order book deltas", report)


if __name__ == "__main__":
    main()
