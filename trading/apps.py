from __future__ import annotations

from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self) -> None:
        # Imported here, not at the top: views and models may only be imported once the app registry is ready.
        from markets import extensions
        from trading.alerts_runner import AlertRunner
        from trading.brackets_runner import BracketRunner
        from trading.private_feed import AccountStreams
        from trading.services import positions
        from trading.views import market_page_panel

        extensions.add_market_page_panel("trading", market_page_panel)
        extensions.set_positions_provider(positions)
        extensions.add_feed_leader_task("private-streams", lambda: AccountStreams().run)
        extensions.add_feed_leader_task("brackets", lambda: BracketRunner().run)
        extensions.add_feed_leader_task("alerts", lambda: AlertRunner().run)
