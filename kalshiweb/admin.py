from __future__ import annotations

from django.contrib import admin

from kalshiweb.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see and revoke tokens (set "revoked at"), never read one: only digests are stored."""

    list_display = (
        "name",
        "user",
        "prefix",
        "read_only",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("read_only",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("prefix", "last_used_at")
    fields = ("user", "name", "prefix", "read_only", "created_at", "expires_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request: object) -> bool:
        return False  # tokens are made on the settings page or with manage.py create_api_token (shown once)
