"""The queue-position cells of the trader's resting orders (issue #15), polled by the orders panel.

Answers at once from what is stored; when that is older than `queue_positions.REFRESH_SECONDS`, one
Celery refresh per account is queued (single flight), whose answer is pushed to the trader's live pages and
read by the next poll."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from kalshiweb.http import TraderRequest
from trading import queue_positions
from trading.models import Order
from trading.tasks import refresh_queue_positions

MAX_ROWS = 200


@require_GET
@login_required
def queue_positions_cells(request: TraderRequest) -> HttpResponse:
    resting = list(
        Order.objects.for_user(request.user)
        .filter(status=Order.Status.RESTING)
        .exclude(exchange_order_id=None)
        .order_by("-pk")[:MAX_ROWS]
    )
    for account_id in {o.account_id for o in resting}:
        stale = (queue_positions.age(account_id) or float("inf")) >= queue_positions.REFRESH_SECONDS
        if stale and queue_positions.claim_refresh(account_id):
            refresh_queue_positions.delay(account_id)
    cells = queue_positions.cells(resting).get(request.user.pk, [])
    return HttpResponse("".join(cells))
