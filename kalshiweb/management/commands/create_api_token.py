"""`manage.py create_api_token USERNAME [--name N] [--read-only] [--expires-days D]`: a new API token for the user,
printed as the last line of the output (for automation; it is not shown again)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from kalshiweb.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for (default: cli)")
        parser.add_argument("--read-only", action="store_true", help="Queries and subscriptions only")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after this many days")

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        user = model._default_manager.filter(**{model.USERNAME_FIELD: options["username"]}).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        token, raw = ApiToken.issue(
            user,
            options["name"] or "cli",
            read_only=options["read_only"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        scope = "read-only" if token.read_only else "trade"
        self.stdout.write(f"Created {scope} API token {token.name!r} for {user.get_username()} (shown once):")
        self.stdout.write(raw)
