"""Authentication backend: Django's ModelBackend, loading what a trading request checks with the user."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Subquery

from trading.models import OrderGroup, TOTPDevice, TradingHalt


class TraderBackend(ModelBackend):
    def authenticate(self, request: Any, username: Any = None, password: Any = None, **kwargs: Any) -> Any:
        """ModelBackend's check. A username and password it refuses are refused outright (PermissionDenied ends
        Django's loop over AUTHENTICATION_BACKENDS): ModelBackend, listed after this backend only for sessions
        made before it, would otherwise hash the wrong password a second time."""
        user = super().authenticate(request, username=username, password=password, **kwargs)
        given = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if user is None and given is not None and password is not None:
            raise PermissionDenied
        return user

    async def aauthenticate(
        self, request: Any, username: Any = None, password: Any = None, **kwargs: Any
    ) -> Any:
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)

    def get_user(self, user_id: Any) -> Any:
        """The session's user with its trader profile and account (LEFT JOINs) and the global halt (as
        `kw_halted`, `kw_halt_reason`; None when no halt was ever set): `services.trader_profile` and
        `services.current_halt` then need no query of their own, two statements fewer on every trading request.
        Both are read once per request either way. `kw_has_2fa`: whether the user has a confirmed two-factor
        device (trading.twofactor asks every request, at no extra statement). `kw_group_tripped`: whether the
        trader's order group is triggered (trading.order_groups; `services.check_can_trade` refuses orders then)."""
        model = get_user_model()
        halt = TradingHalt.objects.filter(pk=1)
        try:
            user = (
                model._default_manager.select_related("trader__account")
                .annotate(
                    kw_halted=Subquery(halt.values("halted")),
                    kw_halt_reason=Subquery(halt.values("reason")),
                    kw_has_2fa=Exists(TOTPDevice.objects.filter(user_id=OuterRef("pk"), confirmed=True)),
                    kw_group_tripped=Exists(
                        OrderGroup.objects.filter(
                            profile__user_id=OuterRef("pk"), state=OrderGroup.State.TRIGGERED
                        )
                    ),
                )
                .get(pk=user_id)
            )
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
