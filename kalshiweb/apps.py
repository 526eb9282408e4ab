from __future__ import annotations

from typing import Any

from celery.signals import task_postrun
from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from kalshiweb import metrics
from kalshiweb.kalshi import rest


class KalshiwebConfig(AppConfig):
    """The project package as an app: wires the metrics into the Kalshi client and Celery."""

    name = "kalshiweb"
    label = "kalshiweb"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        if metrics.exchange_response not in rest.response_observers:
            rest.response_observers.append(metrics.exchange_response)
        task_postrun.connect(_order_outcome, weak=False, dispatch_uid="kalshiweb-order-outcome")
        checks.register(_static_collected, checks.Tags.staticfiles, deploy=True)


def _static_collected(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    if settings.KALSHIWEB_STATIC_MANIFEST and not settings.KALSHIWEB_STATIC_COLLECTED:
        return [
            checks.Warning(
                "Static files have not been collected: they are served unhashed and uncached.",
                hint="Run `manage.py collectstatic --noinput` (make run does), then restart the web processes.",
                id="kalshiweb.W001",
            )
        ]
    return []


# submit_order's return values that mean the exchange accepted the order (its status after the answer).
_ACCEPTED = {"resting", "executed", "canceled", "submitting"}


def _order_outcome(sender: Any = None, retval: Any = None, state: str | None = None, **_: Any) -> None:
    if getattr(sender, "name", "") != "trading.tasks.submit_order":
        return
    if state == "RETRY":
        metrics.order_submitted("retried")  # 429 or exchange unreachable: not accepted, sent again later
    elif state != "SUCCESS" or not isinstance(retval, str):
        metrics.order_submitted("error")
    elif retval in {"rejected", "unknown"}:
        metrics.order_submitted(retval)
    elif retval in _ACCEPTED:
        metrics.order_submitted("accepted")
