"""Shared pieces of the market-data fan-out benchmark (see bench_fanout.py).

The feed's payload, the pattern the load generator uses to read (ticker, sequence, send time) back out
of the HTML a server delivers, and small /proc readers for CPU time and resident memory.
"""

from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from markets import framesign


def channel_prefix(redis_url: str) -> str:
    """The same as markets.hub.channel_prefix() for that URL (no Django import here): the db goes in the name."""
    db = redis_url.split("?", 1)[0].rsplit("/", 1)[-1] if redis_url.count("/") >= 3 else ""
    return f"kw:{db or '0'}:md:"


FRAG_PREFIX = "kw:frag:"
FINAL_SEQ = 999_999_999  # the one last, distinct update per market published after the run
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The shape and size (~480 bytes) of templates/markets/_fragments.html#row-quote, with the benchmark's
# sequence number and the publisher's send time (time.monotonic(), system-wide on Linux) embedded.
ROW_TEMPLATE = (
    '<div class="quote-cells" id="rowq-{t}" data-seq="{seq}" data-ts="{ts:.6f}" hx-swap-oob="true"\n'
    '  hx-get="/markets/{t}/row/" hx-trigger="kw:poll from:body" '
    'hx-swap="outerHTML">\n'
    '  <span class="num yes">{bid}¢</span>\n'
    '  <span class="num yes">{ask}¢</span>\n'
    '  <span class="num">{last}¢</span>\n'
    '  <span class="num">+{chg}¢</span>\n'
    '  <span class="num">{vol:,}</span>\n'
    "</div>"
)
FRAGMENT_RE = re.compile(rb'id="rowq-([^"]+)" data-seq="(\d+)" data-ts="([0-9.]+)"')


def frame_key() -> bytes:
    """The key the servers verify market frames with (bench_fanout.py sets DJANGO_SECRET_KEY for all of them)."""
    return framesign.frame_key(os.environ["DJANGO_SECRET_KEY"])


def tickers_for(prefix: str, count: int) -> list[str]:
    return [f"KXBENCH-{prefix}{i:03d}" for i in range(count)]


def render_row(ticker: str, seq: int, ts: float) -> str:
    p = seq % 90 + 5
    return ROW_TEMPLATE.format(
        t=ticker, seq=seq, ts=ts, bid=p, ask=p + 2, last=p + 1, chg=seq % 7, vol=1000 + seq * 13
    )


def render_detail(ticker: str, seq: int, ts: float) -> str:
    """A detail-page payload of realistic size (~4 kB: quote, 10-level book, 30 trades). Never sent here
    (the sockets use view=row) but the hub parses it as part of every message, as in production."""
    levels = "".join(
        f'<tr class="lvl"><td class="num">{40 + i}¢</td><td class="num">{100 * i + seq % 97}</td>'
        f'<td class="num">{1000 + i}</td></tr>'
        for i in range(20)
    )
    trades = "".join(
        f'<li class="trade"><span class="num">{50 + i % 9}¢</span><span>{i + 1} ct</span></li>'
        for i in range(30)
    )
    return (
        f'<div id="mq-{ticker}" hx-swap-oob="true" data-seq="{seq}" data-ts="{ts:.6f}">quote</div>'
        f'<table id="book-{ticker}" hx-swap-oob="true">{levels}</table>'
        f'<ul id="trades-{ticker}" hx-swap-oob="true">{trades}</ul>'
    )


def proc_cpu_seconds(pid: int) -> float:
    """utime+stime of the whole process (all its threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    fields = data[data.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def all_processes_cpu() -> dict[tuple[int, int], float]:
    """utime+stime of every process on the machine, keyed by (pid, start time)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
            fields = data[data.rindex(b")") + 2 :].split()
            out[(int(name), int(fields[19]))] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, ValueError, IndexError):
            pass
    return out


def cpu_used_between(before: dict[tuple[int, int], float], after: dict[tuple[int, int], float]) -> float:
    """CPU seconds all processes used between two all_processes_cpu() snapshots (those that exited in
    between are not counted; those that started are, from their start)."""
    return sum(v - before.get(k, 0.0) for k, v in after.items())
