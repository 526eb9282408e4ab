"""The request type of our views, for the type checker: every page is behind ``@login_required`` and
django-htmx's middleware, so ``request.user`` is a real user and ``request.htmx`` exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails


class TraderRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
