from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kalshiweb.simulator.ratelimit import TIER_RATES
from kalshiweb.simulator.runner import RunConfig, parse_api_key, run


def _dollars(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise CommandError(f"--balance must be a dollar amount, got {raw!r}") from None
    if value < 0:
        raise CommandError("--balance must not be negative")
    return value


class Command(BaseCommand):
    help = "Run the built-in Kalshi exchange simulator (Trade API v2 REST + WebSocket) in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--activity", type=float, default=1.0, help="bot activity rate (0 = a quiet market)"
        )
        parser.add_argument("--balance", default=None, help="starting balance of each account, in dollars")
        parser.add_argument(
            "--api-key",
            action="append",
            default=[],
            metavar="KEY_ID=PUBLIC_KEY.pem",
            help="register an API key (RSA or Ed25519 public key PEM); repeatable",
        )
        parser.add_argument(
            "--rate-limit-tier",
            default="basic",
            choices=[*sorted(TIER_RATES), "none"],
            help="'none' disables limits",
        )
        parser.add_argument("--ping-interval", type=float, default=10.0)
        parser.add_argument(
            "--timestamp-window", type=float, default=30.0, help="signature freshness, seconds"
        )

    def handle(self, *args: object, **options: Any) -> None:
        try:
            keys = [parse_api_key(str(spec)) for spec in options["api_key"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for key_id, path in keys:
            if not path.is_file():
                raise CommandError(f"public key file for {key_id} not found: {path}")
        tier = str(options["rate_limit_tier"])
        config = RunConfig(
            host=str(options["host"]),
            port=int(options["port"]),
            seed=int(options["seed"]),
            activity=float(options["activity"]),
            balance=_dollars(str(options["balance"])) if options["balance"] is not None else None,
            rate_limit_tier=None if tier == "none" else tier,
            ping_interval=float(options["ping_interval"]),
            timestamp_window_s=float(options["timestamp_window"]),
            api_keys=keys,
        )
        run(config)
