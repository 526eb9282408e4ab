"""The equity chart: cash + portfolio value over time from stored snapshots, as a server-rendered SVG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from markets.templatetags.kalshi_format import money

register = template.Library()

WIDTH, HEIGHT, PAD = 640, 180, 6


@register.simple_tag
def equity_chart(points: Sequence[Any]) -> SafeString:
    """`points`: objects with `.at` (aware datetime) and `.total` (Decimal), oldest first."""
    # Floats only for drawing coordinates; the labels are formatted from the Decimal amounts.
    pts = [(p.at.timestamp(), float(p.total)) for p in points]
    if len(pts) < 2:
        if pts:
            return format_html(
                '<p class="empty">Equity {} now; the chart draws from the next refresh of the portfolio.</p>',
                money(points[-1].total),
            )
        return mark_safe(
            '<p class="empty">The equity chart starts with the first refresh of the portfolio.</p>'
        )
    t0, t1 = pts[0][0], pts[-1][0]
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    tspan = (t1 - t0) or 1.0

    def x(t: float) -> float:
        return PAD + (t - t0) / tspan * (WIDTH - 2 * PAD)

    def y(v: float) -> float:
        return HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2 * PAD)

    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(pts))
    first, last = points[0], points[-1]
    return format_html(
        '<svg class="chart equity-chart" viewBox="0 0 {w} {h}" role="img" aria-label="Portfolio value from {a} to {b}">'
        '<line x1="0" x2="{w}" y1="{yhi}" y2="{yhi}" class="grid"/><line x1="0" x2="{w}" y1="{ylo}" y2="{ylo}" class="grid"/>'
        '<text x="2" y="{thi}" class="axis">${hi}</text><text x="2" y="{tlo}" class="axis">${lo}</text>'
        '<text x="{w}" y="{h}" class="axis" text-anchor="end">{b}</text>'
        '<path d="{path}" class="line"/></svg>',
        w=WIDTH,
        h=HEIGHT,
        yhi=f"{y(hi):.1f}",
        ylo=f"{y(lo):.1f}",
        thi=f"{y(hi) + 10:.1f}",
        tlo=f"{y(lo) - 2:.1f}",
        hi=f"{max(p.total for p in points):,.2f}",
        lo=f"{min(p.total for p in points):,.2f}",
        a=timezone.localtime(first.at).strftime("%Y-%m-%d %H:%M"),
        b=timezone.localtime(last.at).strftime("%Y-%m-%d %H:%M"),
        path=path,
    )
