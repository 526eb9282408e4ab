"""Small server-rendered SVG charts (no charting library, no CDN): price line and book depth."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from markets.templatetags.kalshi_format import cents_value

register = template.Library()

WIDTH, HEIGHT, PAD = 480, 160, 4


def _scale(values: list[float], lo: float, hi: float, size: float, invert: bool = False) -> list[float]:
    span = (hi - lo) or 1.0
    out = [PAD + (v - lo) / span * (size - 2 * PAD) for v in values]
    return [size - v for v in out] if invert else out


@register.simple_tag
def price_chart(points: list[dict[str, Any]] | None) -> SafeString:
    """A YES-price line over time; each point {"t": epoch seconds, "price": Decimal or str}."""
    pts = [
        (float(p["t"]), float(Decimal(str(p["price"])))) for p in points or [] if p.get("price") is not None
    ]
    if len(pts) < 2:
        return mark_safe('<p class="empty">Not enough trades for a chart yet.</p>')
    xs = _scale([t for t, _ in pts], pts[0][0], pts[-1][0], WIDTH)
    ys = _scale([v for _, v in pts], 0.0, 1.0, HEIGHT, invert=True)
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    )
    grid = format_html_join(
        "",
        '<line x1="0" x2="{}" y1="{}" y2="{}" class="grid"/><text x="2" y="{}" class="axis">{}¢</text>',
        (
            (WIDTH, y, y, y - 2, c)
            for c, y in ((c, _scale([c / 100], 0, 1, HEIGHT, invert=True)[0]) for c in (25, 50, 75))
        ),
    )
    return format_html(
        '<svg class="chart price-chart" viewBox="0 0 {} {}" role="img" aria-label="YES price over time">{}'
        '<path d="{}" class="line"/></svg>',
        WIDTH,
        HEIGHT,
        grid,
        path,
    )


@register.simple_tag
def depth_chart(book: dict[str, Any] | None) -> SafeString:
    """Cumulative YES bids (left, green) against YES asks (right, red) as step areas."""
    if not book or (not book.get("bids") and not book.get("asks")):
        return mark_safe("")
    bids = [(float(Decimal(r["price"])), float(Decimal(r["total"]))) for r in book.get("bids", [])]
    asks = sorted((float(Decimal(r["price"])), float(Decimal(r["total"]))) for r in book.get("asks", []))
    prices = [p for p, _ in bids + asks]
    lo, hi = min(prices) - 0.01, max(prices) + 0.01
    top = max([t for _, t in bids + asks] or [1.0])

    def area(levels: list[tuple[float, float]], toward: float) -> str:
        if not levels:
            return ""
        xs = _scale([p for p, _ in levels] + [toward], lo, hi, WIDTH)
        ys = _scale([t for _, t in levels], 0, top, HEIGHT, invert=True)
        d = f"M{xs[0]:.1f},{HEIGHT}"
        for i, y in enumerate(ys):
            d += (
                f" L{xs[i]:.1f},{y:.1f} L{xs[i + 1]:.1f},{y:.1f}"
                if i + 1 < len(xs) - 1
                else f" L{xs[i]:.1f},{y:.1f}"
            )
        return d + f" L{xs[len(ys) - 1]:.1f},{HEIGHT} Z"

    bid_path = area(bids, lo)
    ask_path = area(asks, hi)
    return format_html(
        '<svg class="chart depth-chart" viewBox="0 0 {} {}" role="img" aria-label="Order book depth">'
        '<path d="{}" class="bid-area"/><path d="{}" class="ask-area"/></svg>',
        WIDTH,
        HEIGHT,
        bid_path,
        ask_path,
    )


@register.filter
def depth_data(book: dict[str, Any] | None) -> dict[str, list[list[str]]]:
    """The book's cumulative sizes for the depth chart script: {"bids": [[cents, total], …], "asks": …}, each
    side by ascending price (the chart's horizontal axis), as decimal text."""
    out: dict[str, list[list[str]]] = {"bids": [], "asks": []}
    for side in ("bids", "asks"):
        rows = sorted(
            (Decimal(str(r["price"])), Decimal(str(r["total"]))) for r in (book or {}).get(side) or []
        )
        out[side] = [[cents_value(p), format(t.normalize(), "f")] for p, t in rows]
    return out
