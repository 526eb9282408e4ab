"""Themes in Chromium (issue #16): a switch that overrides the system's light/dark setting and is kept, and every
page's text meeting WCAG AA contrast (4.5:1, 3:1 for large text) in both themes."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from tests.helpers import browser_login, open_cent_market

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every visible text node's colour against the background it is drawn on (the nearest ancestor with a
# background, semi-transparent ones blended over what is below), as WCAG 2.x computes contrast.
CONTRAST = """
() => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || [0, 0, 0, 0]; return m.length === 3 ? [...m.map(Number), 1] : m.map(Number); };
  const blend = (top, under) => { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]); };
  const lum = (rgb) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    if (layers.length && layers[layers.length - 1][3] >= 1) bg = layers.pop();
    while (layers.length) bg = blend(layers.pop(), bg);
    return bg;
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim()) continue;
    seen.add(el);
    if (el.closest("script, style, noscript, template, [hidden], .visually-hidden, :disabled, option")) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility !== "visible" || box.width === 0 || box.height === 0 || parseFloat(style.opacity) === 0) continue;
    let hiddenAncestor = false;
    for (let e = el; e; e = e.parentElement) { const s = getComputedStyle(e); if (s.display === "none" || parseFloat(s.opacity) === 0) { hiddenAncestor = true; break; } }
    if (hiddenAncestor) continue;
    const bg = background(el);
    const fg = blend(parse(style.color), bg);
    const [a, b] = [lum(fg), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed - 0.005) {
      failures.push(`${el.tagName.toLowerCase()}.${el.className || ""} "${node.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1 (${style.color} on rgb(${bg.slice(0, 3).map(Math.round).join(",")}))`);
    }
  }
  return failures;
}
"""


def with_orders_in_every_state(trader: Any, ticker: str) -> None:
    """Rows for every badge colour (resting, filled, canceled, rejected, unknown) and a fill, so the check sees
    them: stored as the app would have them, not sent (the check is about what the pages draw)."""
    from django.utils import timezone

    from trading.models import Fill, Order

    account = trader.kalshi_account
    fields = {"user": trader, "account": account, "ticker": ticker, "outcome": "yes", "action": "buy"}
    fields |= {"book_side": "bid", "price": D("0.04"), "yes_price": D("0.04"), "count": D("2")}
    for i, status in enumerate(("resting", "executed", "canceled", "rejected", "unknown")):
        left = D(0) if status == "executed" else D(2)
        Order.objects.create(status=status, exchange_order_id=f"x-{i}", remaining_count=left, **fields)
    fill = {
        "account": account,
        "user": trader,
        "exchange_order_id": "x-1",
        "ticker": ticker,
        "outcome_side": "yes",
    }
    fill |= {"book_side": "bid", "action": "buy", "created_time": timezone.now(), "is_taker": True}
    Fill.objects.create(fill_id="f-1", yes_price=D("0.04"), count=D("2"), fee=D("0.01"), **fill)


def theme_of(page: Any) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--bg').trim()")


def test_the_theme_switch_overrides_the_system_and_is_kept(trader, daphne_server, page):
    page.emulate_media(color_scheme="light")
    browser_login(page, daphne_server)
    light = theme_of(page)
    switch = page.locator("#theme-switch")
    assert switch.inner_text() == "Theme: auto"
    switch.click()
    assert (
        switch.inner_text() == "Theme: dark"
        and page.evaluate("document.documentElement.dataset.theme") == "dark"
    )
    dark = theme_of(page)
    assert dark != light
    page.reload()
    assert theme_of(page) == dark and page.locator("#theme-switch").inner_text() == "Theme: dark"
    page.locator("#theme-switch").click()  # light, on a dark system too
    page.emulate_media(color_scheme="dark")
    assert theme_of(page) == light
    page.locator("#theme-switch").click()  # auto again: the system's (dark) setting
    assert page.locator("#theme-switch").inner_text() == "Theme: auto" and theme_of(page) == dark


def test_every_page_meets_wcag_aa_contrast_in_both_themes(sim, trader, feed_process, daphne_server, page):
    ticker = open_cent_market(sim)
    with_orders_in_every_state(trader, ticker)
    page.set_viewport_size({"width": 1440, "height": 900})
    browser_login(page, daphne_server)
    failures: list[str] = []
    for path in (
        f"/markets/{ticker}/",
        "/markets/",
        "/markets/watchlist/",
        "/orders/",
        "/orders/combos/",
        "/orders/alerts/",
        "/portfolio/",
        "/portfolio/fills/",
        "/account/api-tokens/",
    ):
        page.goto(f"{daphne_server}{path}")
        page.wait_for_load_state("networkidle")
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(100)
            failures += sorted({f"{path} [{scheme}] {f}" for f in page.evaluate(CONTRAST)})
    page.goto(f"{daphne_server}/login/")  # logged in: the login page still renders its form
    assert not failures, "text below WCAG AA contrast:\n" + "\n".join(failures)
