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
  session auth, `AllowedHostsOriginValidator`, `MarketStreamConsumer` + `markets.hub`) under **daphne** (with
  `kalshiweb.daphne_fastpath`, which `kalshiweb.serve` installs) and **uvicorn** (`ws="websockets"`), default
  settings (10 frames/s per socket). Extra rows, when run (`--servers ceiling,daphne,uvicorn,daphne-stock`, or
  `daphne-base --base-root DIR` for another checkout's code), are the same app with daphne's stock write path
  (`KALSHIWEB_DAPHNE_FASTPATH=0`) or older code, measured in the same run.
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
- Pings: the measured sockets answer the server's ping comments at once, as `static/js/live.js` does; the app
  uses the answers for flow control (at most `KALSHIWEB_SOCKET_WINDOW_BYTES`, here the default 256 KiB, sent and
  not yet acknowledged) and closes a socket that has not answered for `KALSHIWEB_SOCKET_PONG_TIMEOUT`. The app
  servers run with `KALSHIWEB_SOCKET_PING_SECONDS={cfg.ping_s}` and `KALSHIWEB_SOCKET_PONG_TIMEOUT={cfg.pong_timeout_s}`
  (the defaults are 15 and 60 s): the default ping rate, so its cost is what production pays, and a timeout that
  each server's run outlasts, so the stalled browsers are closed by it (at the first ping after it). A measured
  socket of B that did not answer would stop at the window within ~3 s; "pings answered" counts the answers.
- Stalled browsers: for each app server's whole run (both workloads), two extra sockets with a 4 kB receive
  buffer that do the handshake and never read again (so they answer no ping), watching the first
  {cfg.stalled_markets} markets of each workload: one silent, one that still sends a no-op command
  (`{{"action": "watch", "tickers": []}}`) every 5 s. VmRSS from `/proc/<pid>/status` every 0.5 s; every 0.5 s
  the bytes the kernel holds for each stalled connection (the server end's send queue + the client end's receive
  queue, `/proc/net/tcp`; the peak is taken while the server's end is established) and whether it still is
  ("time open"); at the end each stalled socket is drained and what the server had pushed to it is counted (a
  reset discards what the kernel held, so "held" is the larger of the drained bytes and the kernel peak). Bound = the window + one frame with
  one fragment of every watched market + 4 KiB of pings; "offered" is what the feed published for the watched
  markets over the whole run. The ceiling runs without them: `broadcast()` has no
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
    d_a, d_b = _ws(results, "daphne", "A"), _ws(results, "daphne", "B")
    labels = {"daphne-stock": "Twisted's and autobahn's stock write path", "daphne-base": "the older code"}
    for other, what in labels.items():
        o_a, o_b = _ws(results, other, "A"), _ws(results, other, "B")
        if not (d_a and d_b and o_a and o_b):
            continue
        out.append(
            f"**Same run, daphne with {what}** ({other}): A {o_a.us_frame:.1f} µs per frame, "
            f"{100 * o_a.server_cpu_s / o_a.window_s:.0f}% of its core for {o_a.frames_s:,.0f} frames/s, "
            f"p50 {o_a.p50_ms:.0f} / p99 {o_a.p99_ms:.0f} ms; B {o_b.us_update:.1f} µs per market update, "
            f"p99 {o_b.p99_ms:.0f} ms. The shipped daphne: A {d_a.us_frame:.1f} µs per frame "
            f"({100 * (1 - d_a.us_frame / o_a.us_frame):.0f}% less), "
            f"{100 * d_a.server_cpu_s / d_a.window_s:.0f}% of its core, p50 {d_a.p50_ms:.0f} / p99 "
            f"{d_a.p99_ms:.0f} ms; B {d_b.us_update:.1f} µs per market update "
            f"({100 * (1 - d_b.us_update / o_b.us_update):.0f}% less), p99 {d_b.p99_ms:.0f} ms."
        )
    saturated = [
        f"{r.server} {w.workload} ({100 * w.server_cpu_s / w.window_s:.0f}% of its core, "
        f"{100 * w.fragments / (w.offered_updates * w.window_s):.0f}% of the offered updates delivered)"
        for r in results
        if r.server != "ceiling"
        for w in r.workloads
        if w.server_cpu_s / w.window_s >= 0.95
    ]
    if saturated:
        ca = _ws(results, "ceiling", "A")
        out.append(
            "**Saturated**: "
            + ", ".join(saturated)
            + ": the server needed more than its one core, so updates queued (latency and the share of frames that "
            "carry several markets grow, and with them CPU per frame; per market update is the fairer figure then). "
            + (
                f"On this machine the ceiling itself cost {ca.us_frame:.1f} µs per frame in A (25.5 µs in the run of "
                "2026-11-24, on kernel 6.18.44-fc-v669), so the same code has less headroom here. "
                if ca
                else ""
            )
            + "`--servers ceiling,daphne,daphne-noflow` compares the same run with pings and flow control off "
            '("Diagnostic runs" below): that isolates what the pings and acknowledgements cost. '
            "The RSS slope in A is not the stalled sockets (they hold at most the bound): it is most likely the "
            "server's own buffers while it is behind."
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
            "Latency tails (p99, max), delivered frames/s and the final state in those windows are not reliable, and "
            "CPU per frame is inflated too when the server is preempted enough to fall behind (its queues grow): "
            "compare ratios with a quiet run before reading a regression into them."
        )
    lat = []
    for kind in ("daphne", "uvicorn"):
        for wl in ("A", "B"):
            w = _ws(results, kind, wl)
            if w:
                lat.append(f"{kind} {wl} p50 {w.p50_ms:.0f} / p99 {w.p99_ms:.0f} ms")
    ca, cb = _ws(results, "ceiling", "A"), _ws(results, "ceiling", "B")
    if lat and ca and cb:
        busy = []
        for kind in ("daphne", "uvicorn"):
            for wl in ("A", "B"):
                w = _ws(results, kind, wl)
                if w:
                    busy.append(f"{kind} {wl} {100 * w.server_cpu_s / w.window_s:.0f}%")
        out.append(
            "Latency ("
            + "; ".join(lat)
            + f"; ceiling p99 {ca.p99_ms:.0f} / {cb.p99_ms:.0f} ms): `_send_loop` paces each market with its own "
            "token bucket (KALSHIWEB_MAX_UPDATES_PER_SECOND per market, burst 2) and sends a due update at once, so "
            "at the feed's 10 Hz per market the throttle rarely holds an update back; a tail comes from queueing "
            "on the server's core when it is busy (server CPU in the windows: "
            + ", ".join(busy)
            + ") and, in "
            "disturbed windows, preemption by other processes."
        )
        unexplained = [
            f"{kind} {wl} (p99 {w.p99_ms:.0f} ms, max {w.max_ms:.0f} ms, server CPU "
            f"{100 * w.server_cpu_s / w.window_s:.0f}%)"
            for kind in ("daphne", "uvicorn")
            for wl in ("A", "B")
            if (w := _ws(results, kind, wl)) and w.p99_ms > 50 and w.server_cpu_s / w.window_s < 0.8
        ]
        if unexplained:
            out.append(
                "**p99 over target with the core not busy**: "
                + ", ".join(unexplained)
                + ": not queueing on the server's core; see the notes after this section."
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
                held = max(s["backlog_bytes"], s.get("peak_kernel_bytes", 0))
                parts.append(
                    f"{label} {held / 2**20:.2f} of {s['offered_bytes'] / 2**20:.2f} MiB offered "
                    f"(bound {s.get('bound_bytes', 0) / 2**20:.2f} MiB; open ~{s.get('open_s', 0):.0f} s; "
                    f"at the drain: {s['ended']})"
                )
        slopes = ", ".join(f"{w.workload}: {w.rss_slope_mib_min:+.1f} MiB/min" for w in r.workloads)
        out.append(
            f"Stalled browsers on {r.server}: VmRSS {r.rss_start_mib:.1f} → {r.rss_end_mib:.1f} MiB over "
            f"{r.duration_s:.0f} s (peak {r.rss_peak_mib:.1f}; slope in the measured windows {slopes}); "
            f"most the server pushed towards them: {'; '.join(parts)}."
        )
    out.append(
        "How memory is bounded: the consumer counts the characters it sends and pings after every half window; "
        "the page's answer to a ping acknowledges everything sent before it. While a window "
        "(`KALSHIWEB_SOCKET_WINDOW_BYTES`) is unacknowledged no market frame is sent and updates wait in the "
        "latest-wins `pending` dict (one per market), so a socket that stops reading is owed at most a window "
        "plus one frame, whatever the server does with `send`: daphne (autobahn on Twisted) accepts every "
        "`websocket.send` into its transport buffer without backpressure, uvicorn's `websockets` protocol awaits "
        "`drain()`; the window (256 KiB) is below what loopback kernel buffers alone hold for one socket (~3 MiB), "
        "so with either server the backlog sits in the kernel. A socket that has not answered for "
        "`KALSHIWEB_SOCKET_PONG_TIMEOUT` is closed (4013: the page reconnects and re-reads), which bounds how long. "
        "Order/fill pushes bypass the window (low rate; the page re-reads them on reconnect). "
        "Independently, daphne pings sockets that have sent nothing for 20 s and aborts them 30 s later, and "
        "uvicorn's `websockets` keepalive closes a stalled socket after ~40 s."
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
        f"Run {now}, same method, to test the explanations above: the app with settings changed through the "
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
