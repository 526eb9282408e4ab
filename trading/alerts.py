"""Alerts (issue #16): when each kind is met, and what firing one does.

Market alerts are checked by a feed-leader task (`trading.alerts_runner`) against the feed's live quotes; an
order-fill alert is checked when the fill is stored (`trading.fills.record_fill`). Firing is a conditional
update of `fired_at`, so an alert fires once whichever process sees it first; then the trader's open pages get a
toast (and a browser notification where they allowed it), and an e-mail goes out if they asked for one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from markets.templatetags.kalshi_format import cents
from trading.lifecycle import notify_user
from trading.models import Alert, Fill

log = logging.getLogger(__name__)

ALERTS_CHANGED = '<div id="kw-signal" hx-swap-oob="true" data-event="kw:alerts-changed" hidden></div>'


def _price(quote: dict[str, Any] | None, name: str) -> Decimal | None:
    raw = (quote or {}).get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def met(alert: Alert, quote: dict[str, Any] | None, close_time: datetime | None, now: datetime) -> str | None:
    """What makes a market alert fire now (e.g. "last price 61¢"), or None. A market without the number
    (no trade yet, one side of the book empty) does not fire."""
    threshold = alert.threshold
    if threshold is None:
        return None
    if alert.kind in (Alert.Kind.PRICE_ABOVE, Alert.Kind.PRICE_BELOW):
        last = _price(quote, "last_price")
        if last is None:
            return None
        crossed = last >= threshold if alert.kind == Alert.Kind.PRICE_ABOVE else last <= threshold
        return f"last price {cents(last)}" if crossed else None
    if alert.kind == Alert.Kind.SPREAD_BELOW:
        bid, ask = _price(quote, "yes_bid"), _price(quote, "yes_ask")
        if bid is None or ask is None:
            return None
        return f"spread {cents(ask - bid)}" if ask - bid <= threshold else None
    if alert.kind == Alert.Kind.CLOSING_WITHIN:
        if close_time is None:
            return None
        left = (close_time - now).total_seconds() / 60
        return f"closes in {max(left, 0):.0f} min" if 0 <= left <= threshold else None
    return None


def fire(alert: Alert, note: str) -> bool:
    """Mark the alert fired (once: False if it already was) and tell the trader."""
    now = timezone.now()
    with transaction.atomic():
        won = Alert.objects.filter(pk=alert.pk, fired_at__isnull=True).update(
            fired_at=now, fired_note=note[:300]
        )
        if not won:
            return False
        alert.fired_at, alert.fired_note = now, note[:300]
        message = f"Alert: {alert.describe()} — {note}"
        log.info("alert %s fired for user %s: %s", alert.pk, alert.user_id, note)
        toast = render_to_string("trading/_alert_toast.html", {"message": message})
        notify_user(alert.user_id, [toast, ALERTS_CHANGED])
        if alert.email:
            transaction.on_commit(lambda: _email(alert, message))
    return True


def email_available() -> bool:
    """Whether a mailer is configured (KALSHIWEB_EMAIL_HOST; the test runner puts its own in place)."""
    return bool(getattr(settings, "MAILERS", None))


def _email(alert: Alert, message: str) -> None:
    if not email_available():
        log.info("alert %s: e-mail asked for, but no mail server is configured", alert.pk)
        return
    address = getattr(alert.user, "email", "")
    if not address:
        log.info("alert %s: e-mail asked for, but the trader has no address", alert.pk)
        return
    try:
        send_mail("kalshiweb alert", message, settings.DEFAULT_FROM_EMAIL, [address])
    except Exception as exc:  # the toast went out; a mail server problem must not undo the alert
        log.warning("alert %s: e-mail not sent: %s", alert.pk, exc)


def on_fill(fill: Fill) -> None:
    """A fill was stored: fire the trader's order-fill alerts for its market (or for any market)."""
    if fill.user_id is None:
        return
    waiting = Alert.objects.filter(
        user_id=fill.user_id,
        kind=Alert.Kind.ORDER_FILLED,
        fired_at__isnull=True,
        ticker__in=["", fill.ticker],
    ).select_related("user")
    for alert in waiting:
        side = "YES" if fill.outcome_side == "yes" else "NO"
        fire(alert, f"filled {fill.count.normalize():f} {side} {fill.ticker} @ {cents(fill.price)}")


def waiting_market_alerts() -> list[Alert]:
    return list(
        Alert.objects.filter(fired_at__isnull=True)
        .exclude(kind=Alert.Kind.ORDER_FILLED)
        .exclude(ticker="")
        .select_related("user")
    )
