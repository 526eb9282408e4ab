"""Which pages a trader has open, across every web process.

Each browser socket puts itself in a Redis sorted set per user (`sockets_key`): the member names the page kind
and the socket (`"<view>:<channel>"`), the score is when the entry lapses unless the socket's heartbeat renews
it, so the sockets of a process that died stop counting. The per-user socket limit counts these entries
(markets.consumers), and a push that costs a render asks `open_views` first: the feed process re-rendered every
trader's whole portfolio (one row per position) on each of the account's fills and position updates, for
traders with no portfolio page open as much as for those with one.
"""

from __future__ import annotations

import logging
import time

import redis

from markets import live

log = logging.getLogger(__name__)

# An entry's life without a heartbeat to renew it (pings switched off): a socket that lives longer than this
# without pings would stop being seen, so it is long; only a crashed process leaves one behind that long.
UNRENEWED_SECONDS = 24 * 3600.0


def sockets_key(user_id: object) -> str:
    return f"kw:sockets:user:{user_id}"


def member(view: str, channel: str) -> str:
    return f"{view}:{channel}"


def open_views(user_id: object) -> set[str] | None:
    """The kinds of page the user has a live socket open on (empty: none); None when Redis cannot say."""
    return open_views_of([user_id])[user_id]


def open_views_of(user_ids: list[object]) -> dict[object, set[str] | None]:
    """`open_views` of several users in one round trip (the traders of one account, on each of its fills)."""
    if not user_ids:
        return {}
    now = time.time()
    try:
        with live.client().pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zrangebyscore(sockets_key(user_id), now, "+inf")
            answers = pipe.execute()
    except redis.RedisError as exc:
        log.warning("cannot read which pages users %s have open (%s)", user_ids, exc)
        return dict.fromkeys(user_ids)
    return {
        user_id: {(m.decode() if isinstance(m, bytes) else str(m)).partition(":")[0] for m in members}
        for user_id, members in zip(user_ids, answers, strict=True)
    }
