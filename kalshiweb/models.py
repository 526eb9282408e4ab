"""The project app's own model: per-user API tokens for the GraphQL API (kalshiweb/graphql).

A token is shown once, when it is made; only its SHA-256 digest is stored (a token is 256 random bits, so a
fast hash is enough: nothing to brute-force), with its first characters to tell tokens apart in the list."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "kwt_"


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False, help_text="Queries and subscriptions only: no orders.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @classmethod
    def issue(
        cls, user: object, name: str, *, read_only: bool = False, expires_at: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """A new token for `user`: (the row, the token itself, to show once and never again)."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name[:100],
            prefix=raw[: len(TOKEN_PREFIX) + 6],
            token_digest=digest(raw),
            read_only=read_only,
            expires_at=expires_at,
        )
        return token, raw

    def is_active(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
