"""The API tokens settings page (/account/api-tokens/): a trader creates, names, lists and revokes their own
tokens. A new token is shown once, on the page that created it; only its digest is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from kalshiweb.models import ApiToken

MAX_TOKENS_PER_USER = 20


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “quote bot”.")
    read_only = forms.BooleanField(required=False, label="Read-only (queries and subscriptions, no orders)")
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, label="Expires after (days; empty: never)"
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name


@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = TokenForm(request.POST if request.POST.get("action") == "create" else None)
    context: dict[str, Any] = {"form": form, "new_token": None, "error": ""}
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "revoke":
            # Only the user's own tokens: another user's id changes nothing.
            ApiToken.objects.filter(
                pk=_int(request.POST.get("token")) or 0, user=user, revoked_at__isnull=True
            ).update(revoked_at=timezone.now())
            return redirect("api_tokens")
        if action == "create" and form.is_valid():
            if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
                context["error"] = f"At most {MAX_TOKENS_PER_USER} tokens: revoke one first."
            else:
                days = form.cleaned_data.get("expires_in_days")
                token, raw = ApiToken.issue(
                    user,
                    form.cleaned_data["name"],
                    read_only=form.cleaned_data["read_only"],
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                )
                context.update(new_token=raw, created=token, form=TokenForm())
    context["tokens"] = ApiToken.objects.filter(user=user)[:100]
    status = 400 if request.method == "POST" and form.is_bound and form.errors else 200
    return render(request, "api/tokens.html", context, status=status)


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
