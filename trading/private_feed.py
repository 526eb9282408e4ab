"""The feed's authenticated side: `fill`, `user_orders`, `market_positions` and `order_group_updates` for each
configured account.

Each account with a key gets its own upstream connection (private channels belong to the key that
opened the socket). Messages are written to the database in a worker thread; after every (re)connect
or gap, fills and open orders are reconciled over REST so none is lost and none is counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from asgiref.sync import sync_to_async

from kalshiweb.kalshi import messages as m
from kalshiweb.kalshi.stream import (
    Connected,
    KalshiStream,
    SequenceGap,
    StreamError,
    SubscriptionsRestored,
)
from kalshiweb.kalshi.sync import KalshiSyncClient
from markets import live
from trading import combos, order_groups, signals
from trading.clients import scoped
from trading.fills import handle_private, reconcile_account
from trading.models import KalshiAccount

log = logging.getLogger(__name__)
PRIVATE_CHANNELS = ["fill", "user_orders", "market_positions", "communications", "order_group_updates"]  # #15
# A catch-up that fails (the exchange's REST side down as the socket comes back) is tried again in the
# background, this long after the failure, doubling up to the cap, until one succeeds or a newer one starts.
CATCH_UP_RETRY_FIRST = 1.0
CATCH_UP_RETRY_CAP = 60.0


def message_subaccount(item: Any) -> int:
    """The subaccount a private message is about (Kalshi leaves it out, or sends 0, for the primary)."""
    number = getattr(item, "subaccount", None)
    if number is None:
        number = getattr(item, "subaccount_number", None)
    return int(number or 0)


def _subaccounts() -> dict[int, int]:
    return dict(KalshiAccount.objects.values_list("pk", "subaccount"))


def _accounts() -> list[tuple[int, str, str, Any]]:
    out = []
    for account in KalshiAccount.objects.all():
        if not account.has_key:
            continue
        try:
            signer = account.signer()
        except Exception as exc:
            log.warning(
                "account %s: unusable key (%s); its fills will not stream", account.name, type(exc).__name__
            )
            continue
        rest_base, ws_url = account.urls()
        out.append((account.pk, rest_base, ws_url, signer))
    return out


def _reconcile(account_id: int, rest_base: str, signer: Any) -> tuple[int, int]:
    client = KalshiSyncClient(rest_base, signer=signer)
    try:
        account = KalshiAccount.objects.get(pk=account_id)
        return reconcile_account(account_id, scoped(client, account))
    finally:
        client.close()


def _store_position(account_id: int, msg: m.MarketPositionUpdate) -> None:
    payload = {
        "position": str(msg.position),
        "position_cost": str(msg.position_cost),
        "realized_pnl": str(msg.realized_pnl),
        "fees_paid": str(msg.fees_paid),
    }
    live.client().hset(f"kw:positions:{account_id}", msg.market_ticker, json.dumps(payload))
    signals.position_changed.send(sender=KalshiAccount, account_id=account_id, ticker=msg.market_ticker)


def _catch_up_failed(account_id: int, exc: Exception, again_in: float) -> None:
    log.warning(
        "account %s: could not catch up over REST (%s: %s); trying again in %.0f s",
        account_id,
        type(exc).__name__,
        exc,
        again_in,
    )


class AccountStreams:
    def __init__(self, *, backoff_cap: float = 30.0) -> None:
        self.backoff_cap = backoff_cap
        self.streams: dict[int, KalshiStream] = {}
        self.handled = 0
        self.retries: dict[int, asyncio.Task[None]] = {}  # account → its catch-up being tried again

    async def run(self) -> None:
        accounts = await sync_to_async(_accounts, thread_sensitive=False)()
        if not accounts:
            log.info("no trading account with a key: no private streams")
            return
        tasks = [asyncio.create_task(self._run_account(*a), name=f"private-{a[0]}") for a in accounts]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in [*tasks, *self.retries.values()]:
                task.cancel()
            for stream in self.streams.values():
                with contextlib.suppress(Exception):
                    await stream.close()

    async def _run_account(self, account_id: int, rest_base: str, ws_url: str, signer: Any) -> None:
        stream = self.streams[account_id] = KalshiStream(
            ws_url, signer=signer, maintain_books=False, backoff_cap=self.backoff_cap
        )
        await stream.start(wait=False)
        subscribed = False
        # Issue #15: the socket of a key carries the messages of all its subaccounts; each account row (one
        # per subaccount, each with its own socket) keeps only its own.
        own = (await sync_to_async(_subaccounts, thread_sensitive=False)()).get(account_id, 0)
        async for item in stream:
            if (
                isinstance(item, (m.Fill, m.UserOrder, m.MarketPositionUpdate))
                and message_subaccount(item) != own
            ):
                continue
            try:
                # Catch up over REST on whatever happened while we were not listening, always *after* the
                # subscription is in place: a fill made between a catch-up and the subscription would reach
                # neither. The first time, subscribe() returns once subscribed; after a reconnect the stream
                # restores the subscription itself and says so (SubscriptionsRestored).
                catch_up = False
                if isinstance(item, Connected):
                    if not subscribed:
                        if await stream.subscribe_or_recycle(PRIVATE_CHANNELS, None) is None:
                            continue  # refused: again on the fresh connection
                        subscribed = True
                        catch_up = True
                elif isinstance(item, (SubscriptionsRestored, SequenceGap)):
                    catch_up = True
                if catch_up:
                    await self._catch_up(account_id, rest_base, signer)
                elif isinstance(item, StreamError):
                    log.warning("account %s private stream: %s", account_id, item.error)
                elif isinstance(item, (m.Fill, m.UserOrder)):
                    await asyncio.to_thread(handle_private, account_id, item)
                    self.handled += 1
                elif isinstance(item, m.MarketPositionUpdate):
                    await asyncio.to_thread(_store_position, account_id, item)
                elif isinstance(item, m.CommunicationsMessage) and item.type in combos.QUOTE_MESSAGES:
                    await asyncio.to_thread(combos.on_comms_message, account_id, item.type, item.msg)
                elif isinstance(item, m.OrderGroupUpdate):
                    await asyncio.to_thread(order_groups.on_update, account_id, item)
            except Exception:
                log.exception("account %s: could not handle %s", account_id, type(item).__name__)

    async def _reconcile_now(self, account_id: int, rest_base: str, signer: Any) -> None:
        new, changed = await asyncio.to_thread(_reconcile, account_id, rest_base, signer)
        if new or changed:
            log.info("account %s: reconciled %d missed fill(s), %d order(s)", account_id, new, changed)

    async def _catch_up(self, account_id: int, rest_base: str, signer: Any) -> None:
        """Fills and orders missed while not listening, read now; if that fails, again in the background (the
        socket's messages keep being handled meanwhile) rather than only at the next reconnect or gap."""
        pending = self.retries.pop(account_id, None)
        if pending is not None:
            pending.cancel()  # this catch-up covers everything that one would have
        try:
            await self._reconcile_now(account_id, rest_base, signer)
        except Exception as exc:
            _catch_up_failed(account_id, exc, CATCH_UP_RETRY_FIRST)
            self.retries[account_id] = asyncio.create_task(
                self._retry_catch_up(account_id, rest_base, signer), name=f"private-{account_id}-catch-up"
            )

    async def _retry_catch_up(self, account_id: int, rest_base: str, signer: Any) -> None:
        delay = CATCH_UP_RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            try:
                await self._reconcile_now(account_id, rest_base, signer)
            except Exception as exc:
                delay = min(delay * 2, CATCH_UP_RETRY_CAP)
                _catch_up_failed(account_id, exc, delay)
                continue
            log.info("account %s: caught up over REST after a failed attempt", account_id)
            if self.retries.get(account_id) is asyncio.current_task():
                del self.retries[account_id]
            return
