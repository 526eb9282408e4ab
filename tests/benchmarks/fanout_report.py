"""The docs/benchmarks.md section of the fan-out benchmark: method, tables and an interpretation drawn
from the numbers of the run (nothing here is hard-coded to a result)."""

from __future__ import annotations

from typing import Any

SECTION = "## Market-data fan-out"
DIAG = "### Diagnostic runs"


def _ws(results: list[Any], server: str, workload: str) -> Any:
    for r in results:
        if r.server == server:
            return next((w for w in r.workloads if w.workload == workload), None)
    return None


def method(cfg: Any) -> str:
    a, b = cfg.workloads
    return f"""\
Method (`python tests/benchmarks/bench_fanout.py`; `--quick` is a smaller smoke run):

- Three servers, one after the other, fed the same frames: the **ceiling** (`tests/benchmarks/fanout_ceiling.py`:
  asyncio, one Redis subscription, each update's row HTML `websockets.broadcast()` to the sockets watching that
  market, no conflation, no auth), and the app (`python -m kalshiweb.serve`, i.e. `kalshiweb.asgi:application`:
  session auth, `AllowedHostsOriginValidator`, `MarketStreamConsumer` + `markets.hub`) under **daphne** and
  **uvicorn** (`ws="websockets"`), default settings (10 frames/s per socket).
- The server process alone on CPU 0; the load generator (all sockets, one asyncio process driving the
  `websockets` Sans-I/O client protocol), the feed process and an embedded redis-server on CPU 1. Server CPU =
  utime+stime of the whole process (all threads) from `/proc/<pid>/stat` over the measurement window;
  "load-gen core %" = client + feed + redis-server CPU (all on CPU 1), to show the load generator was not
  the bottleneck; "other processes' CPU %" = everything else on the machine during the window.
- Feed: every market updates at {a.rate:g} Hz, markets staggered evenly over the 100 ms period; each update is
  published once on `kw:md:<ticker>` as JSON with `row` (~480 B, the shape of `_fragments.html#row-quote`) and
  `detail` (~4 kB), with a sequence number and the send time (`time.monotonic()`) embedded in the HTML.
  Latency = send → the client's receive of each market update delivered (all fragments of a conflated frame).
- Workload A: {a.title}. Workload B: {b.title}. Warm-up {cfg.warmup:g} s, then {cfg.measure:g} s measured.
  In B one app frame carries up to 20 markets' fragments while each ceiling frame carries one, so B is compared
  per delivered market update as well as per frame.
- Final state: after the measured window the feed stops and publishes one last, distinct update per market;
  a socket is exact when its last-seen sequence for every market it watches is that final one (waiting ≤ 5 s).
- Stalled browsers: for each app server's whole run (both workloads), two extra sockets with a 4 kB receive
  buffer that do the handshake and never read again, watching the first {cfg.stalled_markets} markets of each workload: one
  silent, one that still sends a no-op command (`{{"action": "watch", "tickers": []}}`) every 5 s. VmRSS from
  `/proc/<pid>/status` every 0.5 s; at the end each stalled socket is drained and the backlog the server had
  queued for it (user space + kernel buffers) is counted. The ceiling runs without them: `broadcast()` has no
  backpressure, and CPython 3.13's asyncio transport recomputes its write-buffer size by summing every queued
  chunk on each write, so each frame pushed to a backed-up socket costs time proportional to its backlog; with
  the stalled browsers connected the ceiling's CPU per delivered frame rose by ~10% in A and ~50% in B in
  back-to-back runs on 2026-11-24 (`--servers ceiling-stalled` shows it).
- Clients offer no permessage-deflate (browsers do; uvicorn and `websockets` would then compress every frame
  per socket, daphne does not negotiate it), so the table compares fan-out cost, not compression."""


def interpretation(results: list[Any], cfg: Any) -> list[str]:
    out: list[str] = []
    names = [r.server for r in results]
    if "ceiling" not in names:
        return ["(no ceiling run: no ratios)"]
    for kind in ("daphne", "uvicorn"):
        if kind not in names:
            continue
        a, ca = _ws(results, kind, "A"), _ws(results, "ceiling", "A")
        b, cb = _ws(results, kind, "B"), _ws(results, "ceiling", "B")
        if not (a and ca and b and cb):
            continue
        out.append(
            f"**{kind}**: workload A costs {a.us_frame:.1f} µs of server CPU per delivered frame, "
            f"{a.us_frame / ca.us_frame:.2f}× the ceiling's {ca.us_frame:.1f} µs "
            f"({'within' if a.us_frame / ca.us_frame <= 4 else 'over'} the 4× target); in B, where conflation packs "
            f"~{b.fragments / max(b.frames, 1):.0f} markets into each frame, it costs {b.us_update:.1f} µs per "
            f"delivered market update, {b.us_update / cb.us_update:.2f}× the ceiling, which sends every update as "
            f"its own frame ({cb.frames_s:,.0f} frames/s vs {b.frames_s:,.0f}). In A it used "
            f"{100 * a.server_cpu_s / a.window_s:.0f}% of its core for {a.frames_s:,.0f} frames/s, so one {kind} "
            f"process tops out near {a.frames_s / max(a.server_cpu_s / a.window_s, 1e-9):,.0f} frames/s of this kind "
            f"(the ceiling near {ca.frames_s / max(ca.server_cpu_s / ca.window_s, 1e-9):,.0f})."
        )
    noisy = [
        f"{r.server} {w.workload} ({w.cpu_busy.get('others', 0):.0f}%)"
        for r in results
        for w in r.workloads
        if w.cpu_busy.get("others", 0) > 25
    ]
    if noisy:
        out.append(
            "**This run was disturbed**: other processes on this shared machine used more than a quarter of a core "
            "during "
            + ", ".join(noisy)
            + " (they are not pinned, so they also preempt the server on CPU 0). "
            "CPU-time ratios are affected little; latency tails (p99, max) and delivered frames/s in those windows "
            "are not reliable."
        )
    lat = []
    for kind in ("daphne", "uvicorn"):
        for wl in ("A", "B"):
            w = _ws(results, kind, wl)
            if w:
                lat.append(f"{kind} {wl} p50 {w.p50_ms:.0f} / p99 {w.p99_ms:.0f} ms")
    ca, cb = _ws(results, "ceiling", "A"), _ws(results, "ceiling", "B")
    if lat and ca and cb:
        out.append(
            "Latency ("
            + "; ".join(lat)
            + f"; ceiling p99 {ca.p99_ms:.0f} / {cb.p99_ms:.0f} ms): apart from disturbed windows it is set by the "
            "consumer's throttle, not by CPU: `_send_loop` sends, then sleeps a full 1/KALSHIWEB_MAX_UPDATES_PER_SECOND "
            "(100 ms), so an update that arrives during the sleep waits for it to end. In A the feed period (100 ms) "
            "equals that sleep, and each send cycle lasts 100 ms plus the send and the timer's lateness, so the "
            "sender drifts against the feed: every update waits a growing share of the sleep until one is conflated "
            "away (delivered frames/s a few % under the offered rate) and the wait sweeps 0-100 ms, p50 ≈ 50 ms and "
            "p99 ≈ 100 ms. In B, 20 staggered markets per socket arrive uniformly within each 100 ms, so p50 ≈ 50 ms "
            "and p99 ≈ 100 ms for any 10 frames/s cap. p99 ≤ 50 ms needs a flush interval ≤ ~50 ms (≥ 20 frames/s), "
            "and for A a limiter that sends at once when the last send was ≥ 1/rate ago (schedule from the last "
            "send, allow a small burst) instead of sleeping after every send."
        )
    counts = []
    for r in results:
        if r.server == "ceiling":
            continue
        errs = r.log_errors
        crashed = errs.get("Exception inside application", 0) + errs.get("Exception in ASGI application", 0)
        counts.append(
            f"{r.server}: {crashed} crashed application instances in {r.duration_s:.0f} s, "
            f"{sum(w.dropped for w in r.workloads)} measured sockets closed by the server"
        )
    killed = any(
        r.log_errors.get("Exception inside application", 0)
        + r.log_errors.get("Exception in ASGI application", 0)
        + sum(w.dropped for w in r.workloads)
        for r in results
        if r.server != "ceiling"
    )
    history = (
        "Before settings.py gave the channel layer `socket_timeout: 30` (commit d84bb66), redis-py 8's default "
        "5 s read timeout raced channels-redis's `BZPOPMIN …, timeout=5`: whenever the timeout won, the consumer "
        "holding the layer's receive lock died with `redis.exceptions.TimeoutError` and its browser socket was "
        "closed — up to one socket per server process every 5 s, even when idle (runs of this benchmark on "
        "2026-11-24 before the fix: 11 crashes per server per minute, final state exact for 99.7% of sockets in A "
        "and 96.0% in B, every miss a killed socket)."
    )
    if counts and killed:
        out.append(
            "**Browser sockets killed by the server** (this run: "
            + "; ".join(counts)
            + "). Check the server logs; "
            + history
        )
    elif counts:
        out.append(
            "No application instance crashed and no measured socket was closed by the server. " + history
        )
    for r in results:
        st = {s["chatty"]: s for s in r.stalled}
        if not st:
            continue
        parts = []
        for chatty, label in ((False, "silent"), (True, "chatty")):
            s = st.get(chatty)
            if s:
                parts.append(
                    f"{label} {s['backlog_bytes'] / 2**20:.2f} of {s['offered_bytes'] / 2**20:.2f} MiB offered "
                    f"({s['ended']})"
                )
        slopes = ", ".join(f"{w.workload}: {w.rss_slope_mib_min:+.1f} MiB/min" for w in r.workloads)
        out.append(
            f"Stalled browsers on {r.server}: VmRSS {r.rss_start_mib:.1f} → {r.rss_end_mib:.1f} MiB over "
            f"{r.duration_s:.0f} s (peak {r.rss_peak_mib:.1f}; slope in the measured windows {slopes}); "
            f"backlog the server still held for them at the end: {'; '.join(parts)}."
        )
    out.append(
        "The kernel's socket buffers alone hold ~3 MiB per stalled socket on loopback (what a stalled socket still "
        "delivered after the server had closed it), so a drained backlog near the offered total means the server "
        "buffered everything, one stuck near ~3 MiB that it applied backpressure. "
        "How memory is (not) bounded: uvicorn's `websockets` protocol awaits `drain()` in `send`, so a stalled "
        "socket blocks its consumer's `_send_loop` and the latest-wins `pending` dict holds at most one fragment per "
        "market. daphne (autobahn on Twisted) accepts every `websocket.send` into the transport's buffer without "
        "backpressure, so the consumer never blocks, the conflation never engages and the backlog grows at the "
        "full offered rate for as long as the socket lives. daphne pings only sockets that have sent nothing for "
        "20 s and aborts them 30 s later, so a silent stalled browser is cut off after ~50 s, but one that still "
        "sends anything (a chatty page) is never cut off. uvicorn's `websockets` keepalive closes a stalled socket after "
        "~40 s (ping every 20 s, 20 s timeout) whether or not it sends."
    )
    return out


def render_section(
    now: str,
    machine: str,
    cfg: Any,
    results: list[Any],
    table: str,
    detail: str,
    verdict: list[str],
    wall: float,
    background: str,
) -> str:
    lines = [
        SECTION,
        "",
        f"Run {now} on {machine}. Wall time {wall:.0f} s. {background}",
        "",
        method(cfg),
        "",
        table,
        "",
        "Details:",
        "",
        detail,
        "",
        "Targets (CPU per frame ≤ 4× the ceiling under daphne, p99 ≤ 50 ms, final state exact for 100% of sockets, "
        "memory bounded with a non-reading browser):",
        "",
        *[f"- {v}" for v in verdict],
        "",
        "Interpretation:",
        "",
        *[f"- {p}" for p in interpretation(results, cfg)],
    ]
    return "\n".join(lines) + "\n"


def render_diagnostics(now: str, results: list[Any], table: str, detail: str, verdict: list[str]) -> str:
    lines = [
        DIAG,
        "",
        f"Run {now}, same method, to test the explanations above: the app with one setting changed through the "
        "environment (no code change), or the ceiling with the stalled browsers connected. Rows marked "
        "(diagnostic) are not the shipped configuration.",
        "",
        table,
        "",
        detail,
        "",
        *[f"- {v}" for v in verdict],
    ]
    return "\n".join(lines) + "\n"
