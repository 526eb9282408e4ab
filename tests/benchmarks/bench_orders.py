"""Order-path benchmark (issue 5): where the time goes between a trader's click and the acknowledgement on screen.

    python tests/benchmarks/bench_orders.py [--quick] [--seconds 25] [--rate 10] [--trials N]

- Load: 10 traders sharing one Kalshi account post orders through the real view (`trading:place`, Django's
  test client, htmx request) at a sustained `--rate` orders/s — 10/s is the whole Basic write budget of the
  account — for `--seconds`. A Celery worker in its own process (threads pool, 4 threads) submits them over
  loopback HTTP to the simulator, which enforces Basic limits (`rate_limit_tier="basic"`); the app's Redis
  token bucket is at the same tier. A channels-redis receiver subscribed to the traders' `user.<id>` groups
  stands in for their browsers.
- Hops, per order, from the moment the POST starts (same machine, wall clock in every process): order row
  written (the "created" OrderEvent, inside the view's transaction); task started (`submitted_at`, the claim); request signed and sent (the "submitting"
  OrderEvent, written just before the signed POST goes out); exchange processed it (the simulator order's
  `created_time`); acknowledgement recorded (`acknowledged_at`); browser update received on `user.<id>`;
  and the POST handled (the view returned the re-rendered ticket, which happens after the commit).
- Baseline, same run, same simulator: one asyncio process that signs and POSTs directly (our SDK's
  `KalshiClient`, its own Basic-tier account) at the same rate and for the same time.
- 429s (OrderEvent "rate_limited" in the app; HTTP 429s in the baseline) and duplicates (more than one
  simulator order per client_order_id) are counted.
- `--trials N` also runs the randomized fault test (tests/trading/test_order_faults.py) with N trials.

Results are printed as markdown and written to the "## Order path" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HEADING = "## Order path"
ORDER_ID = re.compile(r'id="order-(\d+)"')
STATUS = re.compile(r'class="order status-(\w+)"')
TARGETS = {"sent_p99_ms": 15.0, "browser_p99_ms": 50.0}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def setup(var: Path, sim: Any) -> dict[str, str]:
    """Environment shared by this process and the worker process, then Django set up on a fresh database."""
    env = {
        "DJANGO_SETTINGS_MODULE": "kalshiweb.settings",
        "KALSHIWEB_VAR_DIR": str(var),
        "KALSHIWEB_LOG_LEVEL": "WARNING",
        "KALSHI_ENV": "simulator",
        "KALSHI_API_BASE": sim.rest_base,
        "KALSHI_WS_URL": sim.ws_url,
        "KALSHI_RATE_LIMIT_TIER": "basic",
        "KALSHIWEB_CELERY_QUEUE": f"bench-orders-{uuid.uuid4().hex[:8]}",
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'bench.sqlite3'}",
    }
    os.environ.update(env)
    if not os.environ.get("REDIS_URL"):
        from kalshiweb.devredis import ensure_redis_url

        ensure_redis_url(var / "redis")
    env["REDIS_URL"] = os.environ["REDIS_URL"]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def start_worker(env: dict[str, str], var: Path) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "kalshiweb",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "4",
    ]
    args += [
        "-Q",
        env["KALSHIWEB_CELERY_QUEUE"],
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    args += ["-l", "WARNING"]
    log = open(var / "worker.log", "wb")  # the worker process owns it
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)


class Receiver:
    """The traders' browsers: one channel-layer channel in every trader's `user.<id>` group."""

    def __init__(self, user_ids: list[int]) -> None:
        self.user_ids = user_ids
        self.seen: dict[int, dict[str, float]] = {}  # order pk -> status -> first time seen
        self.ready = threading.Event()
        self._stop = False
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "channel-layer receiver did not start"

    async def _run(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        channel = await layer.new_channel()
        for uid in self.user_ids:
            await layer.group_add(f"user.{uid}", channel)
        self.ready.set()
        while not self._stop:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            html = message.get("html", "")
            pk, status = ORDER_ID.search(html), STATUS.search(html)
            if pk and status:
                self.seen.setdefault(int(pk.group(1)), {}).setdefault(status.group(1), now)
        for uid in self.user_ids:
            await layer.group_discard(f"user.{uid}", channel)

    def stop(self) -> None:
        self._stop = True
        self.thread.join(5)


def fresh_book(ticker: str) -> None:
    from markets import live

    book = {
        "bids": [{"price": "0.01", "size": "10", "total": "10"}],
        "asks": [{"price": "0.99", "size": "10", "total": "10"}],
        "spread": "0.98",
        "stale": False,
        "ts": time.time(),
    }
    live.client().set(f"kw:book:{ticker}", json.dumps(book))
    live.client().set("kw:feed:health", json.dumps({"connected": True}))


def run_app(sim: Any, env: dict[str, str], var: Path, seconds: float, rate: float) -> dict[str, Any]:
    from django.test import Client

    from tests.factories import make_market, make_user
    from tests.trading import orderkit as kit
    from trading.models import Order, OrderEvent, TraderProfile

    ticker = kit.fresh_market(sim)
    make_market(ticker)
    account, sim_user = kit.funded_account(sim, "desk", D("10000000"))
    users, clients = [], []
    for i in range(10):
        user = make_user(f"trader{i}")
        TraderProfile.objects.create(user=user, account=account)
        client = Client()
        client.force_login(user)
        users.append(user)
        clients.append(client)
    url = f"/orders/market/{ticker}/place/"
    form = {"outcome": "yes", "action": "buy", "count": "1", "price_cents": "2", "time_in_force": "gtc"}
    receiver = Receiver([u.pk for u in users])
    worker = start_worker(env, var)
    try:
        fresh_book(ticker)
        # Warm-up (worker start, connections, templates), then let the account's write bucket refill.
        warm: list[int] = []
        for i in range(3):
            response = clients[i].post(url, form, headers={"HX-Request": "true"})
            warm.append(int(ORDER_ID.findall(response.content.decode())[-1]))
        deadline = time.monotonic() + 60
        while Order.objects.filter(pk__in=warm, status=Order.Status.RESTING).count() < len(warm):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(
                    f"the worker did not acknowledge the warm-up orders; see {var / 'worker.log'}"
                )
            time.sleep(0.1)
        time.sleep(2.5)

        posts: dict[int, tuple[float, float]] = {}
        n = int(seconds * rate)
        start = time.monotonic() + 0.2
        late = 0.0
        for i in range(n):
            due = start + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                late = max(late, -wait)
            if i % int(rate * 5) == 0:
                fresh_book(ticker)
            t0 = time.time()
            response = clients[i % len(clients)].post(url, form, headers={"HX-Request": "true"})
            t1 = time.time()
            found = ORDER_ID.findall(response.content.decode())
            if response.status_code != 200 or not found:
                raise RuntimeError(f"order {i} was not placed: HTTP {response.status_code}")
            posts[int(found[-1])] = (t0, t1)
        offered_s = time.monotonic() - start
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            open_ = Order.objects.filter(
                pk__in=posts, status__in=(Order.Status.NEW, Order.Status.SUBMITTING, Order.Status.UNKNOWN)
            )
            if not open_.exists() and all("resting" in receiver.seen.get(pk, {}) for pk in posts):
                break
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        receiver.stop()
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()

    ours = {
        str(coid) for coid in Order.objects.filter(pk__in=posts).values_list("client_order_id", flat=True)
    }
    placed = [o for o in kit.exchange_orders(sim, sim_user, ticker=ticker) if o.client_order_id in ours]
    remote = {o.client_order_id: o for o in placed}
    copies: dict[str, int] = {}
    for o in placed:
        copies[o.client_order_id] = copies.get(o.client_order_id, 0) + 1
    hops: dict[str, list[float]] = {
        k: [] for k in ("handled", "created", "started", "sent", "exchange", "acked", "browser")
    }
    statuses: dict[str, int] = {}
    for order in Order.objects.filter(pk__in=posts):
        t0, t1 = posts[order.pk]
        statuses[order.status] = statuses.get(order.status, 0) + 1
        events: dict[str, float] = {}
        for e in order.events.all():
            events.setdefault(e.kind, e.at.timestamp())
        hops["handled"].append(t1 - t0)
        hops["created"].append(events["created"] - t0)
        if order.submitted_at:
            hops["started"].append(order.submitted_at.timestamp() - t0)
        if "submitting" in events:
            hops["sent"].append(events["submitting"] - t0)
        r = remote.get(str(order.client_order_id))
        if r is not None:
            hops["exchange"].append(r.created_time.timestamp() - t0)
        if order.acknowledged_at:
            hops["acked"].append(order.acknowledged_at.timestamp() - t0)
        shown = receiver.seen.get(order.pk, {}).get("resting")
        if shown:
            hops["browser"].append(shown - t0)
    kinds = list(OrderEvent.objects.filter(order_id__in=posts).values_list("kind", flat=True))
    return {
        "orders": len(posts),
        "offered_rate": len(posts) / offered_s,
        "max_late_ms": late * 1000,
        "hops": hops,
        "statuses": statuses,
        "rate_limited": kinds.count("rate_limited"),
        "outcome_unknown": kinds.count("outcome_unknown"),
        "duplicates": sum(c - 1 for c in copies.values() if c > 1),
        "on_exchange": len(remote),
        "browser_missing": sum(1 for pk in posts if "resting" not in receiver.seen.get(pk, {})),
    }


def run_baseline(sim: Any, seconds: float, rate: float) -> dict[str, Any]:
    """One asyncio process that signs and POSTs directly, paced like the app's load."""
    from kalshiweb.kalshi.auth import KalshiSigner
    from kalshiweb.kalshi.errors import RateLimited
    from kalshiweb.kalshi.models import OrderRequest
    from kalshiweb.kalshi.rest import KalshiClient
    from tests.trading import orderkit as kit

    ticker = kit.fresh_market(sim)
    key_id, pem = sim.add_account(D("10000000"))

    async def main() -> dict[str, Any]:
        client = KalshiClient(sim.rest_base, signer=KalshiSigner.from_pem(key_id, pem))
        latencies: list[float] = []
        limited = 0

        async def one() -> None:
            nonlocal limited
            request = OrderRequest(
                ticker=ticker, side="bid", count=D("1"), price=D("0.02"), client_order_id=str(uuid.uuid4())
            )
            t0 = time.perf_counter()
            try:
                await client.submit_order(request)
            except RateLimited:
                limited += 1
                return
            latencies.append(time.perf_counter() - t0)

        for _ in range(3):  # warm-up, then let the bucket refill
            await one()
        latencies.clear()
        await asyncio.sleep(2.5)
        n = int(seconds * rate)
        start = time.perf_counter() + 0.1
        pending = []
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            pending.append(asyncio.create_task(one()))
        await asyncio.gather(*pending)
        await client.aclose()
        return {"orders": n, "latencies": latencies, "rate_limited": limited}

    return asyncio.run(main())


def run_fault_trials(trials: int) -> dict[str, Any]:
    report = Path(tempfile.mkdtemp(prefix="kalshiweb-faults-")) / "faults.json"
    env = {
        **os.environ,
        "KALSHIWEB_FAULT_TRIALS": str(trials),
        "KALSHIWEB_FAULT_BUDGET_SECONDS": str(max(600, trials * 2)),
        "KALSHIWEB_FAULT_REPORT": str(report),
    }
    for key in (
        "DATABASE_URL",
        "KALSHIWEB_VAR_DIR",
        "KALSHIWEB_CELERY_QUEUE",
        "KALSHI_API_BASE",
        "KALSHI_WS_URL",
    ):
        env.pop(key, None)
    test = "tests/trading/test_order_faults.py::test_randomized_faults_never_duplicate_lose_or_misreport_an_order"
    started = time.monotonic()
    log = report.with_suffix(".log")
    with open(log, "wb") as out:
        code = subprocess.call([sys.executable, "-m", "pytest", test, "-q", "-p", "no:randomly", "--timeout", "0"], cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    if code != 0:
        print(f"fault run failed (exit {code}); its output is in {log}:", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-25:]), file=sys.stderr)
    summary = json.loads(report.read_text()) if report.exists() else {}
    return {"passed": code == 0, "seconds": time.monotonic() - started, **summary}


def ms(values: list[float], q: float) -> str:
    return f"{pct(values, q) * 1000:.1f}"


def render(app: dict[str, Any], base: dict[str, Any], faults: dict[str, Any] | None, args: Any) -> str:
    h = app["hops"]
    rows = [
        ("order row written (view, before commit)", h["created"]),
        ("task started (claim)", h["started"]),
        ("request signed and sent", h["sent"]),
        ("exchange processed it", h["exchange"]),
        ("acknowledgement recorded", h["acked"]),
        ("browser update received", h["browser"]),
        ("POST handled (view returned the ticket)", h["handled"]),
    ]
    sent99, browser99 = pct(h["sent"], 0.99) * 1000, pct(h["browser"], 0.99) * 1000
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    lines = [
        HEADING,
        "",
        f"`python tests/benchmarks/bench_orders.py{' --quick' if args.quick else ''}` — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()} × {os.cpu_count()} cores, Python {platform.python_version()}, SQLite, embedded Redis.",
        "",
        f"10 traders sharing one Basic-tier account post through `trading:place` (test client) at {args.rate:g} orders/s "
        f"for {args.seconds:g} s ({app['orders']} orders, {app['offered_rate']:.2f}/s offered, worst pacing slip "
        f"{app['max_late_ms']:.0f} ms); Celery worker process (threads ×4) → simulator over loopback (Basic limits "
        "enforced); a channels-redis receiver on the traders' `user.<id>` groups stands in for the browsers. "
        "Times are from the start of the POST, per order.",
        "",
        "| hop (time since the POST started) | p50 ms | p99 ms | max ms | n |",
        "|---|---|---|---|---|",
    ]
    for name, values in rows:
        lines.append(
            f"| {name} | {ms(values, 0.5)} | {ms(values, 0.99)} | {ms(values, 1.0)} | {len(values)} |"
        )
    lb = base["latencies"]
    lines += [
        f"| *baseline: one asyncio process signs and POSTs directly, same rate* | {ms(lb, 0.5)} | {ms(lb, 0.99)} "
        f"| {ms(lb, 1.0)} | {len(lb)} |",
        "",
        "| target | result | |",
        "|---|---|---|",
        f"| POST → request sent p99 ≤ {TARGETS['sent_p99_ms']:g} ms | {sent99:.1f} ms | {met(sent99 <= TARGETS['sent_p99_ms'])} |",
        f"| POST → browser shows the acknowledgement p99 ≤ {TARGETS['browser_p99_ms']:g} ms | {browser99:.1f} ms "
        f"| {met(browser99 <= TARGETS['browser_p99_ms'])} |",
        f"| zero 429s at 100% of the write budget | app: {app['rate_limited']} (baseline: {base['rate_limited']}) "
        f"| {met(app['rate_limited'] == 0)} |",
        f"| zero duplicates | {app['duplicates']} ({app['on_exchange']} exchange orders for {app['orders']} placed) "
        f"| {met(app['duplicates'] == 0 and app['on_exchange'] == app['orders'])} |",
        "",
        f"End states: {app['statuses']}; outcome-unknown events: {app['outcome_unknown']}; orders whose "
        f"acknowledgement never reached the receiver: {app['browser_missing']}.",
    ]
    if faults is not None:
        tally = faults.get("tally", {})
        shown = faults.get("task_errors", [])
        share = sum("database is locked" in e for e in shown) / len(shown) if shown else 0.0
        locked = f"{'all' if share == 1 else f'{share:.0%}'} of the first {len(shown)}" if shown else "none"
        lines += [
            "",
            f"Randomized fault run (`--trials {args.trials}`, seed {faults.get('seed', '?')}): "
            f"{tally.get('trials', 0)} trials, {tally.get('orders', 0)} orders in {faults.get('seconds', 0):.0f} s — "
            f"{'**no invariant violated**' if faults.get('passed') and not faults.get('violations') else '**FAILED**'}. "
            f"Faults injected: {tally.get('fault 429', 0)} × 429, {tally.get('fault 500', 0)} × 500, "
            f"{tally.get('fault timeout_after_accept', 0)} × timeout after accept; killed workers "
            f"{tally.get('killed_after_accept', 0) + tally.get('killed_before_send', 0)}, lost task messages "
            f"{tally.get('lost_message', 0)}, 409s forced {tally.get('accepted_before_409', 0)}; task crashes "
            f"dropped (as Celery would) and recovered by the periodic sweep: {faults.get('task_error_count', 0)}, "
            f'{locked} of them SQLite "database is locked" in `reconcile_order`.',
        ]
        for v in faults.get("violations", [])[:10]:
            lines.append(f"- {v}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="8 s of load, 200 fault trials")
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument(
        "--trials", type=int, default=None, help="fault trials (default 2000; 200 with --quick)"
    )
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 8.0)
    if args.trials is None:
        args.trials = 200 if args.quick else 2000

    from kalshiweb.simulator.testing import start_simulator

    var = Path(tempfile.mkdtemp(prefix="kalshiweb-bench-orders-"))
    with start_simulator(seed=1, activity=0.0, rate_limit_tier="basic") as sim:
        env = setup(var, sim)
        app = run_app(sim, env, var, args.seconds, args.rate)
        base = run_baseline(sim, args.seconds, args.rate)
    faults = run_fault_trials(args.trials) if args.trials > 0 else None
    text = render(app, base, faults, args)
    print(text)
    if not args.no_doc:
        from tests.benchmarks.docs_section import write_section

        write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
