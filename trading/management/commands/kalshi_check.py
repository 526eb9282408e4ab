"""`manage.py kalshi_check`: can this deployment and every trader account talk to their exchange?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kalshiweb.kalshi.diagnose import FAIL, Check
from markets.exchange_health import check_deployment
from trading.diagnosis import check_account
from trading.models import KalshiAccount


class Command(BaseCommand):
    help = (
        "Diagnose the connection to Kalshi for the deployment key and every trader account: reachability, "
        "TLS, clock skew, key accepted, read and write permission, rate tier. One line per check, with the fix. "
        "Exits 1 when any check fails."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--timeout", type=float, default=5.0, help="seconds per network step (default 5)")
        parser.add_argument("--deployment-only", action="store_true", help="skip the trader accounts")

    def handle(self, *args: object, **options: Any) -> None:
        timeout = float(options["timeout"])
        failed = 0
        sections: list[tuple[str, list[Check]]] = [
            (
                f"Deployment (KALSHI_ENV={settings.KALSHI_ENV}, {settings.KALSHI_API_BASE}, "
                f"key {settings.KALSHI_API_KEY_ID or 'none'})",
                check_deployment(step_timeout=timeout),
            )
        ]
        if not options["deployment_only"]:
            for account in KalshiAccount.objects.order_by("name"):
                title = f"Account {account.name!r} ({account.environment}, {account.urls()[0]}, key {account.api_key_id})"
                sections.append((title, check_account(account, step_timeout=timeout)))
        for title, checks in sections:
            self.stdout.write(title)
            for check in checks:
                line = "  " + check.line()
                style = {"ok": self.style.SUCCESS, "warn": self.style.WARNING, "fail": self.style.ERROR}.get(
                    check.status, str
                )
                self.stdout.write(style(line))
                failed += check.status == FAIL
        if failed:
            raise CommandError(f"{failed} check(s) failed", returncode=1)
        self.stdout.write(self.style.SUCCESS("All checks passed."))
