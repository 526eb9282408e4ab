"""The production topology on one machine, started from Procfile.production as docs/deploy.md says: 2 web
processes (daphne), 2 Celery workers, a beat and 2 feeds (leader + standby) on the suite's database and Redis,
with the simulator as the exchange, driven by Chromium.

It shows what docs/deploy.md promises:
- a browser on each web process sees the same tick;
- an order placed through web 1 shows up live on the same trader's page served by web 2;
- killing the leading feed brings the standby in, and both pages get the next tick, Live, within 10 s;
- killing the worker that is sending an order loses and doubles nothing: the exchange holds exactly one order
  for it and both pages show it resting.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.conftest import ROOT, _free_port, _wait_for_port, database_url
from tests.helpers import browser_login, open_cent_market, wait_until

pytestmark = [pytest.mark.browser]


def procfile(kind: str, env: dict[str, str]) -> list[str]:
    """The command of one kind of process in Procfile.production, as docs/deploy.md runs it (its ${VAR:-default}
    expanded from `env`; .venv/bin/python and .venv/bin/celery are this interpreter)."""
    for line in (ROOT / "Procfile.production").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() != kind or line.startswith("#"):
            continue
        command = re.sub(
            r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)",
            lambda m: env.get(m[1] or m[3]) or (m[2] or ""),
            command,
        )
        argv = shlex.split(command)
        if argv[0].endswith("/python"):
            return [sys.executable, *argv[1:]]
        if argv[0].endswith("/celery"):
            return [sys.executable, "-m", "celery", *argv[1:]]
        return argv
    raise AssertionError(f"Procfile.production has no {kind!r} line")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """A crash: SIGKILL to the whole process group (a prefork worker's children too)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(10)


@dataclass
class Topology:
    env: dict[str, str]
    logs: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, name: str, *argv: str) -> Proc:
        log = self.logs / f"{name}.log"
        popen = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = self.procs[name] = Proc(name, popen, log)
        return proc

    def web(self, name: str) -> str:
        port = _free_port()
        proc = self.start(
            name, *procfile("web", {**self.env, "PORT": str(port), "KALSHIWEB_BIND": "127.0.0.1"})
        )
        _wait_for_port(port, proc.popen, timeout=30)
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.popen.poll() is None:
                try:
                    os.killpg(proc.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.procs.values():
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def topology(sim, sim_settings, trader, tmp_path) -> Iterator[Topology]:
    from markets.sync import sync_markets

    sync_markets()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "KALSHI_API_BASE": sim.rest_base,
        "KALSHI_WS_URL": sim.ws_url,
        "KALSHI_API_KEY_ID": sim_settings.KALSHI_API_KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": sim_settings.KALSHI_PRIVATE_KEY_PATH,
        # A killed worker's order is reconciled by the beat's sweep after this long (production: 30 s).
        "KALSHIWEB_RECONCILE_AFTER_SECONDS": "3",
    }
    topo = Topology(env, tmp_path)
    try:
        yield topo
    finally:
        topo.stop()
        for proc in topo.procs.values():
            print(
                f"--- {proc.name} (exit {proc.popen.returncode}), last lines:\n"
                + "\n".join(proc.text().splitlines()[-15:])
            )


def test_two_webs_two_workers_a_beat_and_two_feeds_hold_together(sim, trader, topology, browser):
    import redis

    from trading.models import Order

    def spread(t: str) -> D:
        yes, no = sim.exchange.book(t)
        return D(1) - max((p for p, _ in no), default=D("0.10")) - max((p for p, _ in yes), default=D("0.05"))

    ticker = open_cent_market(sim, lambda t: spread(t) >= D("0.05"))
    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    redis_client.delete("kw:feed:leader")
    env = topology.env
    for name in ("feed1", "feed2"):
        topology.start(name, *procfile("feed", env))
    for name in ("worker1", "worker2"):
        topology.start(name, *procfile("worker", {**env, "CELERY_CONCURRENCY": "1"}), "-n", f"{name}@%h")
    topology.start("beat", *procfile("beat", {**env, "KALSHIWEB_VAR_DIR": str(topology.logs)}))
    web1, web2 = topology.web("web1"), topology.web("web2")

    # One browser, one session (cookies are per host, not per port): the same trader on both web processes.
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page1 = context.new_page()
    browser_login(page1, web1)
    page2 = context.new_page()
    pages = (page1, page2)
    page1.goto(f"{web1}/markets/{ticker}/")
    page2.goto(f"{web2}/markets/{ticker}/")
    for page in pages:
        page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=30000)
        page.locator("#ticket button[type=submit]:enabled").wait_for(timeout=30000)

    def tick(price: D) -> None:
        sim.call(
            sim.exchange.create_order,
            "sim-mm",
            ticker=ticker,
            side="bid",
            count=D("3"),
            price=price,
            time_in_force="good_till_canceled",
        )

    def both_show_bid(price: D, timeout_ms: int) -> None:
        for page in pages:
            page.locator(".quote-line .yes").filter(has_text=f"Yes {int(price * 100)}¢").wait_for(
                timeout=timeout_ms
            )

    yes, no = sim.call(sim.exchange.book, ticker)
    best_bid = max((p for p, _ in yes), default=D("0.05"))
    best_ask = D(1) - max((p for p, _ in no), default=D("0.10"))
    assert best_ask - best_bid >= D("0.05"), "the test needs room inside the spread"

    # 1. The same tick reaches a browser on each web process.
    first = best_bid + D("0.01")
    tick(first)
    both_show_bid(first, 15000)

    # 2. An order placed through web 1 shows up live on web 2 (another process, same trader).
    order_price = first + D("0.01")
    page1.fill("#ticket input[name=count]", "2")
    page1.fill("#ticket input[name=price_cents]", str(int(order_price * 100)))
    page1.click("#ticket button[type=submit]")
    placed = wait_until(
        lambda: Order.objects.filter(user=trader).order_by("-pk").first(), 10, "the order row"
    )
    row2 = page2.locator(f"#order-{placed.pk}")
    row2.locator(".badge").filter(has_text="resting").wait_for(timeout=20000)

    # 3. The leading feed crashes: the standby takes over and both pages get the next tick, Live, within 10 s.
    leader = next(
        p for p in (topology.procs["feed1"], topology.procs["feed2"]) if "acquired the feed lease" in p.text()
    )
    standby = topology.procs["feed2" if leader.name == "feed1" else "feed1"]
    leader.kill()
    killed_at = time.monotonic()
    second = order_price + D("0.01")
    tick(second)
    both_show_bid(second, 10000)
    for page in pages:
        page.locator("#conn-badge").filter(has_text="Live").wait_for(timeout=1000)
        page.locator("#ticket button[type=submit]:enabled").wait_for(
            timeout=max(1, int((10 - (time.monotonic() - killed_at)) * 1000))
        )
    took = time.monotonic() - killed_at
    assert took < 10, f"back to live data {took:.1f} s after the leader died"
    assert "acquired the feed lease" in standby.text()

    # 4. The worker sending an order dies mid-request: exactly one order reaches the exchange, none is lost.
    received_before = {
        name: topology.procs[name].text().count("submit_order[") for name in ("worker1", "worker2")
    }
    sim.faults.latency(2.0)  # the exchange is slow: the order is in flight when its worker dies
    try:
        page1.fill("#ticket input[name=count]", "4")
        page1.fill("#ticket input[name=price_cents]", str(int(first * 100)))
        page1.click("#ticket button[type=submit]")
        victim = wait_until(
            lambda: Order.objects.filter(user=trader, count=D("4")).first(), 10, "the second order row"
        )
        wait_until(
            lambda: Order.objects.filter(pk=victim.pk, status=Order.Status.SUBMITTING).exists(),
            10,
            "a worker to claim the order",
        )
        sender = wait_until(
            lambda: next(
                (
                    n
                    for n, before in received_before.items()
                    if topology.procs[n].text().count("submit_order[") > before
                ),
                None,
            ),
            10,
            "the worker that took the order",
        )
        topology.procs[sender].kill()
    finally:
        sim.faults.reset()
    victim.refresh_from_db()
    wait_until(
        lambda: Order.objects.filter(pk=victim.pk, status=Order.Status.RESTING).exists(),
        45,
        "the killed worker's order reconciled to resting",
    )
    victim.refresh_from_db()
    on_exchange = sim.call(
        lambda: [
            o
            for o in sim.exchange.account(trader.sim_user_id).orders.values()
            if o.client_order_id == str(victim.client_order_id)
        ]
    )
    assert len(on_exchange) == 1, f"{len(on_exchange)} orders on the exchange for one click"
    assert on_exchange[0].order_id == victim.exchange_order_id
    for page in pages:
        page.locator(f"#order-{victim.pk} .badge").filter(has_text="resting").wait_for(timeout=20000)
    assert Order.objects.filter(user=trader).count() == 2
    context.close()
