"""The trader's order group: its state panel (polled and pushed live) and the reset button."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kalshiweb.http import TraderRequest
from trading import order_groups


@require_GET
@login_required
def panel(request: TraderRequest) -> HttpResponse:
    return render(request, "trading/_order_group.html", order_groups.panel_context(request.user))


@require_POST
@login_required
def reset(request: TraderRequest) -> HttpResponse:
    """Reset my tripped order group on the exchange (a Celery task; the panel says "resetting…" until done)."""
    queued = order_groups.request_reset(request.user)
    context = {**order_groups.panel_context(request.user), "resetting": queued}
    if request.headers.get("HX-Request"):
        return render(request, "trading/_order_group.html", context)
    return redirect("trading:orders")
