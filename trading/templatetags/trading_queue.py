"""`{% queue_ahead order as ahead %}`: the stored queue position of one resting order (trading.queue_positions)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from trading import queue_positions as queue
from trading.models import Order

register = template.Library()


@register.simple_tag
def queue_ahead(order: Order) -> Decimal | None:
    return queue.ahead(order)
