from __future__ import annotations

from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "markets"

    def ready(self) -> None:
        from markets import discovery, extensions
        from markets.fee_schedule import SeriesFeeWatcher
        from markets.lifecycle_feed import LifecycleStream

        # issue #15 item 5: every market's status changes, live
        extensions.add_feed_leader_task("market-lifecycle", lambda: LifecycleStream().run)
        # issue #15 item 8: which markets have an active incentive program (the list marks them)
        extensions.add_feed_leader_task("incentive-programs", lambda: discovery.refresh_incentives_forever)
        # issue #15 item 4: a series' scheduled fee change reaches the tickets at its time
        extensions.add_feed_leader_task("series-fees", lambda: SeriesFeeWatcher().run)
