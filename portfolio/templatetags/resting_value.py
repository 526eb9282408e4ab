"""`{% resting_value_of user as resting %}`: the resting order value panel's data (portfolio/resting.py), so the
portfolio page renders the panel complete without its view knowing of it."""

from __future__ import annotations

from typing import Any

from django import template

from portfolio.resting import RestingValue, resting_value

register = template.Library()


@register.simple_tag
def resting_value_of(user: Any) -> RestingValue | None:
    return resting_value(user)
