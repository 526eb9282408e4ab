"""Market sync and page render benchmark (issue 4).

    python tests/benchmarks/bench_markets.py [--markets 10000] [--quick]

- Sync: 10,000 markets paged over real loopback HTTP from the simulator and upserted in bulk (insert, then
  update), next to a baseline measured in the same run: one `update_or_create` per market (timed on a
  sample and scaled, as running it for all would take minutes).
- Render: the market list (10,000 markets, several sorts/filters) and the market detail page through
  Django's test client, p50/p95, next to the home page as the baseline of one request through the stack.
Results are printed as markdown and written to the "## Markets: sync and render" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def setup_django(var: Path) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalshiweb.settings")
    os.environ["KALSHIWEB_VAR_DIR"] = str(var)
    os.environ.setdefault("KALSHIWEB_LOG_LEVEL", "WARNING")
    if not os.environ.get("REDIS_URL"):
        from kalshiweb.devredis import ensure_redis_url

        ensure_redis_url(var / "redis")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{var / 'bench.sqlite3'}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return os.environ["DATABASE_URL"].split(":", 1)[0]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def add_markets(sim: object, count: int) -> None:
    def build() -> None:
        ex = sim.exchange  # type: ignore[attr-defined]
        template = next(m for m in ex.markets.values() if m.status == "active")
        for i in range(count):
            ex.add_market(
                dataclasses.replace(template, ticker=f"{template.event_ticker}-BENCH{i:05d}", market_id="")
            )

    sim.call(build)  # type: ignore[attr-defined]


def serve_simulator(count: int, conn: object) -> None:
    """Child process: the simulator with `count` extra markets, until the parent says stop."""
    from kalshiweb.simulator.testing import start_simulator

    with start_simulator(seed=1, activity=0.0, rate_limit_tier=None) as sim:
        add_markets(sim, count)
        conn.send(sim.rest_base)  # type: ignore[attr-defined]
        conn.recv()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 markets, fewer requests")
    args = parser.parse_args(argv)
    n = 1_000 if args.quick else args.markets
    requests = 20 if args.quick else 60
    var = Path(tempfile.mkdtemp(prefix="kalshiweb-bench-"))
    load_before = loadavg()
    engine = setup_django(var)

    from django.contrib.auth import get_user_model
    from django.test import Client

    from kalshiweb.exchange import run_blocking
    from kalshiweb.kalshi.rest import KalshiClient
    from markets.models import Event, Market, Series
    from markets.sync import fetch_all, market_row, store

    # A server database (PostgreSQL) outlives the run: start from empty market tables and no bench user, so
    # the first sync is an insert as it is on SQLite's fresh file.
    Market.objects.all().delete()
    Event.objects.all().delete()
    Series.objects.all().delete()
    get_user_model().objects.filter(username="bench").delete()

    # The exchange runs in a process of its own (as Kalshi does), so the sync is measured from the client's
    # side and the two do not share one interpreter's lock.
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    server = ctx.Process(target=serve_simulator, args=(n, child_end), daemon=True)
    server.start()
    rest_base = parent_end.recv()
    try:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(server.pid, {0})
            os.sched_setaffinity(0, {1})

        async def fetch() -> tuple:
            async with KalshiClient(rest_base) as client:
                return await fetch_all(client)

        t0, c0 = time.perf_counter(), time.process_time()
        series, events, markets = run_blocking(fetch)
        fetch_s, fetch_cpu = time.perf_counter() - t0, time.process_time() - c0
        first = store(series, events, markets)
        second = store(series, events, markets)

        # Baseline: one update_or_create per market, on a sample, scaled to the same count.
        sample = markets[:300]
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        for m in sample:
            row = market_row(m, None, now)
            fields = {
                f.attname: getattr(row, f.attname)
                for f in Market._meta.concrete_fields
                if f.attname not in ("ticker", "series_id")
            }
            Market.objects.update_or_create(ticker=m.ticker, defaults=fields)
        per_row = (time.perf_counter() - t0) / len(sample)
        baseline_s = per_row * len(markets)

        user = get_user_model().objects.create_user("bench", password="bench-password-123")
        from django.conf import settings

        settings.KALSHI_API_BASE = rest_base
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        ticker = markets[0].ticker

        def timed(path: str, params: dict | None = None) -> float:
            t = time.perf_counter()
            response = client.get(path, params or {})
            assert response.status_code == 200, (path, response.status_code)
            return (time.perf_counter() - t) * 1000

        for _ in range(3):
            timed("/")
            timed("/markets/")
        home = [timed("/") for _ in range(requests)]
        listing = []
        variants = [
            {},
            {"sort": "volume_24h"},
            {"sort": "close_time"},
            {"sort": "spread"},
            {"q": "BENCH01"},
            {"status": "all", "page": "50"},
        ]
        per_variant: dict[str, list[float]] = {}
        for i in range(requests):
            variant = variants[i % len(variants)]
            ms = timed("/markets/", variant)
            listing.append(ms)
            per_variant.setdefault(
                "&".join(f"{k}={v}" for k, v in variant.items()) or "(default)", []
            ).append(ms)
        detail = [timed(f"/markets/{ticker}/") for _ in range(requests)]
        detail_partial = [timed(f"/markets/{ticker}/", {"partial": "market-quote"}) for _ in range(requests)]
    finally:
        parent_end.send("stop")
        server.join(10)

    total = len(markets)
    sync_s = fetch_s + first.seconds
    run = "python tests/benchmarks/bench_markets.py" + (" --quick" if args.quick else "")
    if engine != "sqlite":
        run = f"DATABASE_URL={engine}://… {run}"
    lines = [
        f"### Database: {engine}",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"database {engine}, {total:,} markets (`{run}`); load average {load_before} before, {loadavg()} after "
        "(the machine is shared: compare against the same-run baselines).",
        "",
        "| sync step | seconds | note |",
        "|---|---|---|",
        f"| fetch all pages over loopback HTTP (client parse included; simulator in its own process) | {fetch_s:.2f} | {total // 1000 + 1} pages of 1,000 |",
        f"| bulk upsert, first sync (insert) | {first.seconds:.2f} | |",
        f"| bulk upsert, re-sync (update) | {second.seconds:.2f} | |",
        f"| of which our client's CPU (HTTP + parsing into typed Markets) | {fetch_cpu:.2f} | the rest of the fetch is the simulator building its JSON in its own process |",
        f"| **full sync (fetch + upsert)** | **{sync_s:.2f}** | target ≤ 5 s: {'met' if sync_s <= 5 else 'NOT met'} |",
        f"| our side only (client CPU + first upsert) | {fetch_cpu + first.seconds:.2f} | what a sync against a fast server would cost: {'within' if fetch_cpu + first.seconds <= 5 else 'over'} 5 s |",
        f"| baseline: one `update_or_create` per market | {baseline_s:.2f} | {per_row * 1000:.2f} ms/market on a 300-market sample, scaled; bulk is {baseline_s / max(second.seconds, 1e-9):.0f}× faster |",
        "",
        "| page (Django test client, in-process) | p50 ms | p95 ms | × baseline p50 |",
        "|---|---|---|---|",
        f"| baseline: home page | {statistics.median(home):.1f} | {pct(home, 0.95):.1f} | 1.0 |",
        f"| market list over {total:,} markets (6 sort/filter variants) | {statistics.median(listing):.1f} | {pct(listing, 0.95):.1f} | {statistics.median(listing) / statistics.median(home):.1f} |",
        f"| market detail, full page (includes REST candlesticks + trades from the simulator) | {statistics.median(detail):.1f} | {pct(detail, 0.95):.1f} | {statistics.median(detail) / statistics.median(home):.1f} |",
        f"| market detail, live quote partial (the polling path) | {statistics.median(detail_partial):.1f} | {pct(detail_partial, 0.95):.1f} | {statistics.median(detail_partial) / statistics.median(home):.1f} |",
        "",
        f"Targets: list and detail p95 ≤ 50 ms — list {'met' if pct(listing, 0.95) <= 50 else 'NOT met'}, "
        f"detail {'met' if pct(detail, 0.95) <= 50 else 'NOT met'}.",
        "",
        "| market list variant | requests | p50 ms | max ms |",
        "|---|---|---|---|",
        *(
            f"| `{name}` | {len(values)} | {statistics.median(values):.1f} | {max(values):.1f} |"
            for name, values in per_variant.items()
        ),
        "",
    ]
    report = "\n".join(lines)
    print(report)
    from tests.benchmarks.docs_section import DOC, write_section

    write_section(HEADING, section_with(DOC.read_text() if DOC.exists() else "", engine, report))
    return 0


HEADING = "## Markets: sync and render"
INTRO = (
    "Run once per database: each run replaces its own `### Database:` part and keeps the other "
    "(`python tests/benchmarks/bench_markets.py` for SQLite, with `DATABASE_URL=postgres://…` for PostgreSQL)."
)


def section_with(doc: str, engine: str, report: str) -> str:
    """The markets section with this engine's part replaced and the other engines' parts kept."""
    parts: dict[str, str] = {}
    start = doc.find(HEADING)
    if start != -1:
        end = doc.find("\n## ", start + len(HEADING))
        section = doc[start : end if end != -1 else len(doc)]
        for chunk in section.split("\n### Database: ")[1:]:
            name = chunk.split("\n", 1)[0].strip()
            parts[name] = "### Database: " + chunk.strip()
    parts[engine] = report.strip()
    ordered = sorted(parts, key=lambda name: (name != "sqlite", name))
    return "\n\n".join([HEADING, INTRO, *(parts[name] for name in ordered)]) + "\n"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
