"""The order POST's own cost, without the rest of the order path: `trading:place` through Django's test client.

    python tests/benchmarks/bench_place_view.py [--orders 200] [--root TREE] [--database-url URL] [--wsgi]

One process, nothing else running on the path (no Celery publish: `delay_on_commit` is replaced by a no-op; no
worker, no simulator), real commits on a fresh database (SQLite in a temporary directory unless
`--database-url`, whose database must exist and is migrated) and a private embedded Redis. Prints, per POST,
the time from its start to the order's "created" audit row (the view before its commit) and to the response
(the view after its commit too). `--root` measures another checkout of the code (e.g. an older commit from
`git archive`), so two versions can be compared on the same machine minutes apart. The POSTs go through
Django's ASGI handler (its async test client, on one event loop, as daphne runs it); `--wsgi` uses the WSGI
test client instead, which pays an asyncio loop per request for the async-only ServeStatic middleware (a cost
production, on daphne, does not have). Not a test; not part of `make bench` (bench_orders.py measures the
whole path).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--wsgi", action="store_true", help="the WSGI test client instead of the ASGI handler"
    )
    parser.add_argument(
        "--gap-ms",
        type=float,
        default=0.0,
        help="idle time between POSTs (bench_orders.py's 10 orders/s leaves ≈90 ms): the process then starts each "
        "POST from idle, as on the order path, instead of back to back with warm caches",
    )
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    var = Path(tempfile.mkdtemp(prefix="kalshiweb-bench-place-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="kalshiweb.settings",
        KALSHIWEB_VAR_DIR=str(var),
        KALSHIWEB_LOG_LEVEL="ERROR",
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    from kalshiweb.devredis import ensure_redis_url

    ensure_redis_url(var / "redis")
    import django

    django.setup()
    import asyncio

    from django.core.management import call_command
    from django.test import AsyncClient, Client

    import trading.tasks
    from markets import live
    from tests.factories import make_market, make_user
    from trading.balance import store_balance
    from trading.models import KalshiAccount, OrderEvent, TraderProfile, TradingHalt

    call_command("migrate", verbosity=0)
    import kalshiweb.asgi  # noqa: F401 - the web process's start-up as daphne runs it (URLconf loaded, heap frozen)

    trading.tasks.submit_order.delay_on_commit = lambda *a, **k: None  # type: ignore[method-assign]
    ticker = "KXBENCH-PLACE"
    TradingHalt.current()
    make_market(ticker)
    account = KalshiAccount.objects.create(name="bench", api_key_id="bench-key")
    user = make_user("alice")
    TraderProfile.objects.create(user=user, account=account)
    client = Client() if args.wsgi else AsyncClient()
    client.force_login(user)
    loop = asyncio.new_event_loop()

    def post(url: str, data: dict[str, str]) -> Any:
        headers = {"HX-Request": "true"}
        if isinstance(client, AsyncClient):
            return loop.run_until_complete(client.post(url, data, headers=headers))
        return client.post(url, data, headers=headers)

    def fresh() -> None:
        book = {"bids": [], "asks": [], "stale": False, "ts": time.time()}
        live.client().set(f"kw:book:{ticker}", json.dumps(book))
        live.client().set("kw:feed:health", json.dumps({"connected": True}))
        store_balance(account, Decimal("1000000"))

    form = {"outcome": "yes", "action": "buy", "count": "1", "price_cents": "2", "time_in_force": "gtc"}
    created: list[float] = []
    handled: list[float] = []
    warm = 20
    for i in range(args.orders + warm):
        if i % 50 == 0:
            fresh()
        if args.gap_ms:
            time.sleep(args.gap_ms / 1000)
        t0 = time.time()
        response = post(f"/orders/market/{ticker}/place/", form)
        t1 = time.time()
        if response.status_code != 200 or b'id="order-' not in response.content:
            raise RuntimeError(f"order {i} was not placed: HTTP {response.status_code}")
        if i >= warm:
            at = OrderEvent.objects.filter(kind="created").order_by("-pk").values_list("at", flat=True)[0]
            created.append((at.timestamp() - t0) * 1000)
            handled.append((t1 - t0) * 1000)
    database = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    gap = f", {args.gap_ms:g} ms idle between them" if args.gap_ms else ", back to back"
    handler = "WSGI test client" if args.wsgi else "ASGI handler"
    print(f"{root} ({database}, {handler}, {args.orders} POSTs{gap})")
    for name, values in (("POST → order row written", created), ("POST → response", handled)):
        print(
            f"  {name}: min {min(values):.2f}  p50 {pct(values, 0.5):.2f}  p90 {pct(values, 0.9):.2f}  "
            f"p99 {pct(values, 0.99):.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
