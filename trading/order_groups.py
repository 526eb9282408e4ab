"""Each trader's order group on the exchange: Kalshi's own risk limit, which holds even if our workers are down.

A trader whose profile has "max contracts filled per 15 s" places every order in their order group. The
exchange cancels the group's orders and refuses new ones once more than that many contracts fill within 15 s
(the group is *triggered*), until it is reset. The trader's kill switch triggers the group on the exchange too.

Exactly once: the group is created lazily by the order task (`group_for_order`) under a claim on the
`OrderGroup` row (a conditional update of `creating_since`), so a redelivered or concurrent task never creates a
second one. Kalshi's create has no idempotency key, so when a create's answer is lost the row keeps its claim
and the next attempt first adopts the account's group that no row knows (`_adopt_orphan`) instead of creating
another. Trigger, reset and limit updates are absolute, hence safe to repeat; their tasks retry until done.

The state shown comes from our own calls, the `order_group_updates` channel (`on_update`, run by the private
feed) and an order the exchange refused because the group is triggered (`refused_order`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi.errors import ExchangeUnavailable, KalshiError, NotFound, OutcomeUnknown, RateLimited
from trading.clients import client_for
from trading.lifecycle import ORDERS_CHANGED, notify_user
from trading.models import Order, OrderGroup, TraderProfile

log = logging.getLogger(__name__)

TRIGGERED_CODE = "order_group_triggered"
CLAIM_STALE = timedelta(seconds=60)  # a creation claim older than this belongs to a dead worker


class GroupBusy(Exception):
    """Another worker is creating this trader's group right now: try again in a moment."""


# --- the group an order goes into ---------------------------------------------------------------------------------


def group_for_order(order: Order) -> str:
    """The exchange id of the order's trader's group, created on the exchange if needed; "" when the trader has
    no order-group limit. Raises `GroupBusy`, or the client's errors (the caller retries)."""
    profile = TraderProfile.objects.select_related("account").filter(user_id=order.user_id).first()
    if (
        profile is None
        or profile.max_contracts_filled_per_15s is None
        or profile.account_id != order.account_id
    ):
        return ""
    group = _row(profile)
    if group.exchange_id:
        return group.exchange_id
    return _create(profile, group)


def _row(profile: TraderProfile) -> OrderGroup:
    limit = profile.max_contracts_filled_per_15s
    assert limit is not None and profile.account is not None
    group, _ = OrderGroup.objects.get_or_create(
        profile=profile, defaults={"account": profile.account, "contracts_limit": limit}
    )
    if group.account_id != profile.account_id:  # the trader moved to another account: a new group there
        OrderGroup.objects.filter(pk=group.pk).update(
            account=profile.account, exchange_id=None, creating_since=None, state=OrderGroup.State.ACTIVE
        )
        group.refresh_from_db()
    return group


def _create(profile: TraderProfile, group: OrderGroup) -> str:
    now = timezone.now()
    claimed = (
        OrderGroup.objects.filter(pk=group.pk, exchange_id__isnull=True)
        .filter(creating_since__isnull=True)
        .update(creating_since=now)
    )
    if not claimed:
        group.refresh_from_db()
        if group.exchange_id:
            return group.exchange_id
        if group.creating_since and now - group.creating_since < CLAIM_STALE:
            raise GroupBusy(f"order group of {profile.user_id} is being created")
        # A dead worker's claim: take it over (one of the racers wins the conditional update).
        if not OrderGroup.objects.filter(pk=group.pk, creating_since=group.creating_since).update(
            creating_since=now
        ):
            raise GroupBusy(f"order group of {profile.user_id} is being created")
    assert profile.account is not None
    client = client_for(profile.account)
    limit = profile.max_contracts_filled_per_15s
    assert limit is not None
    if group.creating_since is not None or group.note == "create_unknown":
        # An earlier attempt may have created it and lost the answer: adopt that group instead of a second one.
        orphan = _adopt_orphan(profile, client)
        if orphan:
            return _created(group, orphan, limit)
    try:
        result = client.create_order_group(limit)
    except (OutcomeUnknown, ExchangeUnavailable) as exc:
        # Keep the claim's trace: the next attempt looks for the group this one may have created.
        OrderGroup.objects.filter(pk=group.pk).update(creating_since=None, note="create_unknown")
        raise exc
    except KalshiError:
        OrderGroup.objects.filter(pk=group.pk).update(creating_since=None)
        raise
    return _created(group, result.order_group_id, limit)


def _adopt_orphan(profile: TraderProfile, client: Any) -> str:
    known = set(OrderGroup.objects.exclude(exchange_id=None).values_list("exchange_id", flat=True))
    orphans = [g.id for g in client.get_order_groups() if g.id not in known]
    if len(orphans) > 1:
        log.warning(
            "account %s has %d unknown order groups; adopting the first", profile.account_id, len(orphans)
        )
    return orphans[0] if orphans else ""


def _created(group: OrderGroup, exchange_id: str, limit: Any) -> str:
    OrderGroup.objects.filter(pk=group.pk).update(
        exchange_id=exchange_id,
        creating_since=None,
        note="",
        contracts_limit=limit,
        state=OrderGroup.State.ACTIVE,
        changed_at=timezone.now(),
    )
    log.info("order group %s created for trader %s (limit %s)", exchange_id, group.profile_id, limit)
    return exchange_id


# --- state ---------------------------------------------------------------------------------------------------------


def _set_state(group: OrderGroup, state: str, note: str) -> None:
    with transaction.atomic():
        OrderGroup.objects.filter(pk=group.pk).update(state=state, note=note[:300], changed_at=timezone.now())
        group.refresh_from_db()
        push(group)


def on_update(account_id: int, msg: m.OrderGroupUpdate) -> None:
    """An `order_group_updates` message from the account's private stream."""
    group = OrderGroup.objects.filter(account_id=account_id, exchange_id=msg.order_group_id).first()
    if group is None:
        return
    if msg.event_type == "triggered":
        _set_state(group, OrderGroup.State.TRIGGERED, "on the exchange")
    elif msg.event_type == "reset":
        _set_state(group, OrderGroup.State.ACTIVE, "reset")
    elif msg.event_type == "limit_updated" and msg.contracts_limit is not None:
        OrderGroup.objects.filter(pk=group.pk).update(contracts_limit=msg.contracts_limit)
    elif msg.event_type == "deleted":
        OrderGroup.objects.filter(pk=group.pk).update(exchange_id=None, state=OrderGroup.State.ACTIVE)


def refused_order(order: Order, code: str) -> None:
    """The exchange refused an order because its group is triggered: that is news of the trip."""
    if code != TRIGGERED_CODE or not order.order_group_id:
        return
    group = OrderGroup.objects.filter(exchange_id=order.order_group_id).first()
    if group is not None and not group.triggered:
        _set_state(group, OrderGroup.State.TRIGGERED, "on the exchange")


def group_of(user: Any) -> OrderGroup | None:
    return OrderGroup.objects.select_related("profile").filter(profile__user_id=user.pk).first()


def panel_context(user: Any) -> dict[str, Any]:
    profile = TraderProfile.objects.filter(user_id=user.pk).first()
    return {
        "order_group": group_of(user),
        "group_limit": profile.max_contracts_filled_per_15s if profile else None,
    }


def render_panel(user_id: int) -> str:
    profile = TraderProfile.objects.filter(user_id=user_id).first()
    group = OrderGroup.objects.filter(profile__user_id=user_id).first()
    context = {"order_group": group, "group_limit": profile.max_contracts_filled_per_15s if profile else None}
    return render_to_string("trading/_order_group.html", {**context, "oob": True})


def push(group: OrderGroup) -> None:
    user_id = group.profile.user_id
    # The only page with the panel; the orders-changed signal re-reads its orders (a trip canceled them: the
    # feed stored those cancels before the group's message, which Kalshi sends after them).
    notify_user(user_id, [render_panel(user_id), ORDERS_CHANGED], views=("orders",))


# --- the trader's and the admin's actions (Celery tasks: retried until done; each is absolute) ----------------------


def _retry(task: Any) -> Any:
    return task.retry(countdown=min(30.0, 0.5 * 2**task.request.retries))


def _act(task: Any, group_pk: int, action: str) -> str:
    group = OrderGroup.objects.select_related("account", "profile").filter(pk=group_pk).first()
    if group is None or not group.exchange_id:
        return "no group on the exchange"
    client = client_for(group.account)
    try:
        if action == "trigger":
            client.trigger_order_group(group.exchange_id)
        elif action == "reset":
            client.reset_order_group(group.exchange_id)
        else:
            client.update_order_group_limit(group.exchange_id, group.profile.max_contracts_filled_per_15s)
    except NotFound:
        OrderGroup.objects.filter(pk=group.pk).update(exchange_id=None, state=OrderGroup.State.ACTIVE)
        return "gone on the exchange"
    except (RateLimited, OutcomeUnknown, ExchangeUnavailable):
        raise _retry(task) from None
    if action == "trigger":
        _set_state(group, OrderGroup.State.TRIGGERED, "by the kill switch")
    elif action == "reset":
        _set_state(group, OrderGroup.State.ACTIVE, "reset")
    else:
        OrderGroup.objects.filter(pk=group.pk).update(
            contracts_limit=group.profile.max_contracts_filled_per_15s
        )
    return action


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def trigger_group(self: Any, group_pk: int) -> str:
    return _act(self, group_pk, "trigger")


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def reset_group(self: Any, group_pk: int) -> str:
    return _act(self, group_pk, "reset")


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def update_group_limit(self: Any, group_pk: int) -> str:
    return _act(self, group_pk, "limit")


def request_trigger(user: Any) -> bool:
    group = group_of(user)
    if group is None or not group.exchange_id:
        return False
    trigger_group.delay_on_commit(group.pk)
    return True


def request_reset(user: Any) -> bool:
    group = group_of(user)
    if group is None or not group.exchange_id:
        return False
    reset_group.delay_on_commit(group.pk)
    return True


def limit_changed(profile: TraderProfile) -> None:
    """The admin changed the trader's limit: the exchange's group follows (created with it when first needed)."""
    group = OrderGroup.objects.filter(profile=profile).first()
    if group is not None and group.exchange_id and profile.max_contracts_filled_per_15s is not None:
        update_group_limit.delay_on_commit(group.pk)
