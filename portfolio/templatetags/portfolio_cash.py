"""`{% cash_history user account as cash %}`: the account's recent deposits and withdrawals for the portfolio
page's cash panel, or None when this user may not see them (portfolio.cash.visible_to)."""

from __future__ import annotations

from typing import Any

from django import template

from portfolio import cash

register = template.Library()


@register.simple_tag
def cash_history(user: Any, account: Any) -> list[Any] | None:
    if not cash.visible_to(user, account):
        return None
    return list(cash.recent(account))
