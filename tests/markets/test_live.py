"""Reading the feed's Redis keys: several in one round trip, tolerant of missing, malformed and unreachable data."""

from __future__ import annotations

import json

import redis

from markets import live


def test_several_keys_come_back_parsed_in_order_with_none_for_missing_or_malformed():
    client = live.client()
    client.set("kw:test:a", json.dumps({"x": 1}))
    client.set("kw:test:bad", "{not json")
    try:
        values = live.get_json_many(["kw:test:a", "kw:test:missing", "kw:test:bad"])
    finally:
        client.delete("kw:test:a", "kw:test:bad")
    assert values == [{"x": 1}, None, None]


def test_an_unreachable_redis_reads_as_nothing_rather_than_failing(monkeypatch):
    def down(*args, **kwargs):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(live.client(), "mget", down)
    assert live.get_json_many(["kw:book:X", "kw:feed:health"]) == [None, None]
