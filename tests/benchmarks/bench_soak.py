"""Soak of the production topology: does anything grow over half an hour of trading?

    python tests/benchmarks/bench_soak.py [--minutes 30] [--sockets 200] [--order-rate 1] [--no-postgres]

What runs, each as its own process, as docs/deploy.md describes: the simulator (with bot activity, so markets
move), 2 web processes (daphne, `python -m kalshiweb.serve`), 2 Celery workers (prefork), one beat and 2
`kalshi_feed` processes (leader + standby), on PostgreSQL (a fresh `kw_soak` database on 127.0.0.1:5432, or
SQLite with `--no-postgres`) and Redis (127.0.0.1:6379 db 9 when it answers, else an embedded redis-server).

Load: `--sockets` browser sockets (half on each web process), each watching 10 markets and answering the
server's pings as live.js does; one trader placing `--order-rate` orders per second through the real ticket
(GET the ticket for its hidden fields, POST it as htmx does), alternating between the web processes: 1-contract
IOC orders at 1¢ on a quiet market (they go to the exchange and end canceled) plus, every tenth order, a GTC
at 1¢ canceled again a few seconds later through the row's Cancel (so the cancel path is exercised too).

Sampled every `--every` seconds: resident memory (RSS, a process and its children) and open file descriptors
of every process, and Redis's used memory. Reported: first/last/max and the growth over the run after a
warm-up (the first fifth), as a least-squares slope in MiB per 10 minutes. Written to the "## Soak" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docs_section import write_section  # noqa: E402

HEADING = "## Soak"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
PING = re.compile(r"^<!--kw:ping:(\d+)-->$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing on port {port}")


def port_open(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


# --- process sampling -------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


@dataclass
class Series:
    t: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)  # MiB
    fds: list[int] = field(default_factory=list)


def slope_per_10min(t: list[float], y: list[float]) -> float:
    if len(t) < 3:
        return float("nan")
    n = len(t)
    mt, my = sum(t) / n, sum(y) / n
    var = sum((a - mt) ** 2 for a in t)
    if not var:
        return 0.0
    return sum((a - mt) * (b - my) for a, b in zip(t, y, strict=True)) / var * 600


# --- the topology -----------------------------------------------------------------------------------------


class Stack:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=self.env,
            stdout=(self.logs / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def manage(self, *argv: str) -> None:
        subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=self.env, check=True)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def setup_database(postgres: str) -> str:
    if not postgres:
        return f"sqlite:///{tempfile.mkdtemp(prefix='kalshiweb-soak-db-')}/db.sqlite3"
    import psycopg

    base, name = postgres.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres


def make_trader(env: dict[str, str], key_id: str, private_pem: bytes) -> None:
    """The trader `soak` linked to the simulator account of `key_id` (Django set up in a child process)."""
    code = f"""
import django; django.setup()
from django.contrib.auth import get_user_model
from trading.models import KalshiAccount, TraderProfile
from decimal import Decimal
user = get_user_model().objects.create_user("soak", password="soak-password-1")
account = KalshiAccount(name="soak", environment="simulator", api_key_id={key_id!r})
account.set_private_key({private_pem.decode()!r})
account.save()
TraderProfile.objects.create(user=user, account=account, max_contracts_per_order=Decimal(1000),
    max_notional_per_order=Decimal(1000), max_position_per_market=Decimal(100000))
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


# --- load -------------------------------------------------------------------------------------------------


@dataclass
class Load:
    frames: int = 0
    pongs: int = 0
    socket_errors: int = 0
    open_sockets: int = 0
    posts: int = 0
    post_errors: list[str] = field(default_factory=list)
    cancels: int = 0


async def browser_socket(url: str, origin: str, cookie: str, load: Load, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    while not stop.is_set():
        try:
            async with connect(
                url, origin=origin, additional_headers={"Cookie": cookie}, max_size=2**24
            ) as ws:
                load.open_sockets += 1
                try:
                    while not stop.is_set():
                        try:
                            message = await asyncio.wait_for(ws.recv(), 1.0)
                        except TimeoutError:
                            continue
                        load.frames += 1
                        m = PING.match(message) if isinstance(message, str) else None
                        if m:
                            await ws.send(json.dumps({"action": "pong", "n": int(m[1])}))
                            load.pongs += 1
                finally:
                    load.open_sockets -= 1
        except Exception:
            load.socket_errors += 1
            await asyncio.sleep(1.0)


async def trader(
    webs: list[str], ticker: str, rate: float, load: Load, stop: asyncio.Event, cookies: dict[str, str]
) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=10.0, cookies=cookies) as client:
        i = 0
        start = time.monotonic()
        due: list[tuple[float, str, str]] = []  # GTC orders to cancel: (when, web, order id)
        while not stop.is_set():
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            base = webs[i % len(webs)]
            i += 1
            try:
                ticket = await client.get(
                    f"{base}/orders/market/{ticker}/ticket/", headers={"HX-Request": "true"}
                )
                form = dict(HIDDEN.findall(ticket.text))
                gtc = i % 10 == 0
                form.update(
                    {
                        "outcome": "yes",
                        "action": "buy",
                        "count": "1",
                        "price_cents": "1",
                        "time_in_force": "gtc" if gtc else "ioc",
                    }
                )
                response = await client.post(
                    f"{base}/orders/market/{ticker}/place/",
                    data=form,
                    headers={
                        "HX-Request": "true",
                        "X-CSRFToken": cookies.get("csrftoken", ""),
                        "Referer": base + "/",
                    },
                )
                load.posts += 1
                if response.status_code != 200 or "order-" not in response.text:
                    alert = re.search(r'role="alert">(?:<ul[^>]*><li>)?([^<]+)', response.text)
                    load.post_errors.append(
                        f"{response.status_code}: {alert[1] if alert else response.text[:120]!r}"
                    )
                elif gtc and (order_id := re.search(r'id="order-(\d+)"', response.text)):
                    due.append((time.monotonic() + 3.0, base, order_id[1]))
                while due and due[0][0] <= time.monotonic():
                    _, where, oid = due.pop(0)
                    await cancel(client, where, oid, load, cookies.get("csrftoken", ""))
            except Exception as exc:
                load.post_errors.append(type(exc).__name__)


async def cancel(client: Any, base: str, order_id: str, load: Load, csrf: str) -> None:
    try:
        response = await client.post(
            f"{base}/orders/{order_id}/cancel/",
            headers={
                "HX-Request": "true",
                "X-CSRFToken": csrf,
                "Referer": base + "/",
            },
        )
        if response.status_code == 200:
            load.cancels += 1
        else:
            load.post_errors.append(f"cancel {response.status_code}: {response.text[:100]!r}")
    except Exception as exc:
        load.post_errors.append(f"cancel {type(exc).__name__}")


def login(base: str) -> dict[str, str]:
    import httpx

    with httpx.Client(timeout=10.0) as client:
        page = client.get(f"{base}/login/")
        token = dict(HIDDEN.findall(page.text)).get("csrfmiddlewaretoken", "")
        response = client.post(
            f"{base}/login/",
            data={"username": "soak", "password": "soak-password-1", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/login/"},
        )
        if "sessionid" not in client.cookies:
            raise RuntimeError(f"login failed: {response.status_code} {response.text[:200]}")
        return dict(client.cookies)


# --- main -------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from kalshiweb.simulator.auth import generate_rsa_key_pair

    work = Path(tempfile.mkdtemp(prefix="kalshiweb-soak-"))
    database_url = setup_database(args.postgres)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    if port_open("127.0.0.1", 6379):
        env["REDIS_URL"] = "redis://127.0.0.1:6379/9"
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    else:
        from kalshiweb.devredis import start_embedded

        env["REDIS_URL"], _ = start_embedded(work)
    sim_port = free_port()
    keys = {}
    for role in ("deploy", "trader"):
        private, public = generate_rsa_key_pair()
        key_id = f"soak-{role}-{uuid.uuid4().hex[:8]}"
        (work / f"{role}.pem").write_bytes(private)
        (work / f"{role}.pub").write_bytes(public)
        keys[role] = (key_id, private)
    env.update(
        {
            "DATABASE_URL": database_url,
            "KALSHIWEB_VAR_DIR": str(work),
            "KALSHI_ENV": "simulator",
            "KALSHI_SIM_PORT": str(sim_port),
            "KALSHI_API_BASE": f"http://127.0.0.1:{sim_port}/trade-api/v2",
            "KALSHI_WS_URL": f"ws://127.0.0.1:{sim_port}/trade-api/ws/v2",
            "KALSHI_API_KEY_ID": keys["deploy"][0],
            "KALSHI_PRIVATE_KEY_PATH": str(work / "deploy.pem"),
            "KALSHIWEB_CELERY_QUEUE": f"soak-{uuid.uuid4().hex[:8]}",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
            "DJANGO_SETTINGS_MODULE": "kalshiweb.settings",
            # All the sockets are one trader's: the per-user socket cap would refuse all but 20.
            "KALSHIWEB_MAX_SOCKETS_PER_USER": "0",
        }
    )
    stack = Stack(env, work)
    load = Load()
    samples: dict[str, Series] = {}
    redis_mib: list[float] = []
    try:
        stack.start(
            "sim",
            "manage.py",
            "kalshi_sim",
            "--port",
            str(sim_port),
            "--activity",
            str(args.activity),
            "--rate-limit-tier",
            "none",
            "--api-key",
            f"{keys['deploy'][0]}={work / 'deploy.pub'}",
            "--api-key",
            f"{keys['trader'][0]}={work / 'trader.pub'}",
        )
        wait_port(sim_port)
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("sync_markets")
        make_trader(env, keys["trader"][0], keys["trader"][1])
        for name in ("feed1", "feed2"):
            stack.start(name, "manage.py", "kalshi_feed", "--no-sync")
        for name in ("worker1", "worker2"):
            stack.start(
                name, "-m", "celery", "-A", "kalshiweb", "worker", "-n", f"{name}@%h", "--concurrency", "1"
            )
        stack.start(
            "beat", "-m", "celery", "-A", "kalshiweb", "beat", "--schedule", str(work / "beat-schedule")
        )
        webs = []
        for name in ("web1", "web2"):
            port = free_port()
            stack.start(
                name,
                "-m",
                "kalshiweb.serve",
                "--server",
                "daphne",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            )
            wait_port(port)
            webs.append(f"http://127.0.0.1:{port}")
        cookies = login(webs[0])
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        tickers = [
            line.split()[0]
            for line in subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import django; django.setup(); from markets.models import Market; "
                    "print('\\n'.join(Market.objects.filter(status='active').order_by('-volume')"
                    ".values_list('ticker', flat=True)[:60]))",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
        ]
        order_ticker = tickers[
            0
        ]  # watched by the first sockets: its book is live, so the ticket takes orders

        async def drive() -> None:
            stop = asyncio.Event()
            tasks = []
            for i in range(args.sockets):
                base = webs[i % 2]
                watched = ",".join(tickers[(i * 7) % 50 : (i * 7) % 50 + 10])
                url = base.replace("http", "ws") + f"/ws/markets/?view=row&tickers={watched}"
                tasks.append(asyncio.create_task(browser_socket(url, base, cookie, load, stop)))
            tasks.append(
                asyncio.create_task(trader(webs, order_ticker, args.order_rate, load, stop, cookies))
            )
            started = time.monotonic()
            end = started + args.minutes * 60
            while time.monotonic() < end:
                now = time.monotonic() - started
                for name, proc in stack.procs.items():
                    pids = descendants(proc.pid)
                    series = samples.setdefault(name, Series())
                    series.t.append(now)
                    series.rss.append(sum(rss_kib(p) for p in pids) / 1024)
                    series.fds.append(sum(fds(p) for p in pids))
                try:
                    import redis

                    redis_mib.append(
                        redis.Redis.from_url(env["REDIS_URL"]).info("memory")["used_memory"] / 2**20
                    )
                except Exception:
                    pass
                print(
                    f"[{now / 60:5.1f} min] sockets {load.open_sockets} frames {load.frames} posts {load.posts} "
                    f"errors {len(load.post_errors)}",
                    flush=True,
                )
                await asyncio.sleep(min(args.every, max(0.0, end - time.monotonic())) or 0.01)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(drive())
        alive = {name: proc.poll() is None for name, proc in stack.procs.items()}
        statuses = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, json; django.setup(); from django.db.models import Count; "
                "from trading.models import Order; "
                "print(json.dumps(dict(Order.objects.values_list('status').annotate(n=Count('id')))))",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    finally:
        stack.stop()
    return {
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "database": "PostgreSQL" if database_url.startswith("postgres") else "SQLite",
        "minutes": args.minutes,
        "sockets": args.sockets,
        "order_rate": args.order_rate,
        "load": load.__dict__,
        "statuses": json.loads(statuses or "{}"),
        "alive": alive,
        "samples": {k: v.__dict__ for k, v in samples.items()},
        "redis_mib": redis_mib,
        "logs": str(work),
    }


def render(result: dict[str, Any], argv: str) -> str:
    load = result["load"]
    lines = [
        HEADING,
        "",
        f"`python tests/benchmarks/bench_soak.py {argv}`: {result['at']} UTC, {platform.machine()} × {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, {result['database']} and Redis; {result['minutes']:g} minutes of the "
        f"production topology (simulator with bot activity, 2 daphne, 2 prefork workers, beat, 2 feeds) with "
        f"{result['sockets']} browser sockets answering pings and one trader placing {result['order_rate']:g} orders/s "
        "through the real ticket (IOC at 1¢, every tenth a GTC canceled 3 s later).",
        "",
        f"Load: {load['posts']} orders posted and {load['cancels']} canceled ({len(load['post_errors'])} refused or failed"
        + (f", e.g. {load['post_errors'][0]}" if load["post_errors"] else "")
        + f"); order end states {result['statuses']}; {load['frames']:,} frames received and {load['pongs']:,} pings "
        f"answered; socket errors/reconnects {load['socket_errors']}. Every process alive at the end: "
        f"{'yes' if all(result['alive'].values()) else 'no: ' + str(result['alive'])}.",
        "",
        "| process | RSS first → last (max) MiB | growth after warm-up, MiB / 10 min | fds first → last (max) |",
        "|---|---|---|---|",
    ]
    for name, s in result["samples"].items():
        t, rss, fd = s["t"], s["rss"], s["fds"]
        if not t:
            continue
        warm = len(t) // 5
        slope = slope_per_10min(t[warm:], rss[warm:])
        lines.append(
            f"| {name} | {rss[0]:.0f} → {rss[-1]:.0f} ({max(rss):.0f}) | {slope:+.2f} | {fd[0]} → {fd[-1]} ({max(fd)}) |"
        )
    r = result["redis_mib"]
    if r:
        lines.append(
            f"| Redis (used_memory) | {r[0]:.1f} → {r[-1]:.1f} ({max(r):.1f}) | "
            f"{slope_per_10min(list(range(len(r)))[len(r) // 5 :], r[len(r) // 5 :]):+.2f} per 10 samples | — |"
        )
    lines += [
        "",
        "RSS counts a process and its children (a prefork worker's pool); the slope is a least-squares fit over the "
        "samples after the first fifth of the run.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--order-rate", type=float, default=1.0)
    parser.add_argument("--activity", type=float, default=1.0, help="simulator bot activity")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("KALSHIWEB_BENCH_POSTGRES_SOAK", "postgres://postgres@127.0.0.1:5432/kw_soak"),
    )
    parser.add_argument("--no-postgres", dest="postgres", action="store_const", const="")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args(argv)
    if args.postgres and not port_open("127.0.0.1", 5432):
        print("PostgreSQL not reachable: SQLite", file=sys.stderr)
        args.postgres = ""
    result = run(args)
    if args.results:
        args.results.write_text(json.dumps(result))
    text = render(result, " ".join(argv if argv is not None else sys.argv[1:]))
    print(text)
    if not args.no_doc:
        write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
