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
    try:
        members = live.client().zrangebyscore(sockets_key(user_id), time.time(), "+inf")
    except redis.RedisError as exc:
        log.warning("cannot read which pages user %s has open (%s)", user_id, exc)
        return None
    return {(m.decode() if isinstance(m, bytes) else str(m)).partition(":")[0] for m in members}
