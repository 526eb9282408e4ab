from __future__ import annotations

from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "portfolio"

    def ready(self) -> None:
        # Imported here, not at the top: models may only be imported once the app registry is ready.
        from portfolio import receivers
        from trading import signals

        signals.fill_recorded.connect(receivers.on_fill, dispatch_uid="portfolio-on-fill")
        signals.position_changed.connect(receivers.on_position, dispatch_uid="portfolio-on-position")
        signals.cash_moved.connect(receivers.on_cash_moved, dispatch_uid="portfolio-on-cash-moved")
