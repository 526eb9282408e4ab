"""Authentication backend: Django's ModelBackend, loading the trader profile with the user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class TraderBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        """The session's user with its trader profile and account (LEFT JOINs): `services.trader_profile`
        then needs no query of its own, which saves a statement on every trading request."""
        model = get_user_model()
        try:
            user = model._default_manager.select_related("trader__account").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
