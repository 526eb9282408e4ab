from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kalshiweb.kalshi.errors import KalshiError
from markets.sync import sync_markets


class Command(BaseCommand):
    help = "Fetch every series, event and market from Kalshi (or the simulator) and upsert them."

    def handle(self, *args: object, **options: object) -> None:
        try:
            result = sync_markets()
        except KalshiError as exc:
            raise CommandError(f"sync failed: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"cannot reach the exchange: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Synced {result}"))
