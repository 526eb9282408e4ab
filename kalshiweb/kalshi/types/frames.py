"""The WebSocket envelope (``{"type", "sid", "seq", "id", "msg"}``) around the messages of ``ws.py``: decoding a
frame into its typed message, and encoding one (the simulator's side)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ..errors import ProtocolError, error_from_ws
from .scalars import EPOCH, check_legacy, convert, decoder, from_unix_ms, parse_rfc3339
from .ws import (
    REMOVED_TYPES,
    SEQUENCED_TYPES,
    Body,
    CommunicationsMessage,
    ErrorMessage,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPositionUpdate,
    Message,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
)

# --- the envelopes ----------------------------------------------------------------------------------------------

# Data messages by type: (body class for the client, whether the envelope carries a required seq).
_DATA: dict[str, type[Any]] = {
    "orderbook_snapshot": OrderbookSnapshot,
    "orderbook_delta": OrderbookDelta,
    "ticker": Ticker,
    "trade": Trade,
    "fill": Fill,
    "user_order": UserOrder,
    "market_position": MarketPositionUpdate,
    "market_lifecycle_v2": MarketLifecycle,
    "multivariate_market_lifecycle": MarketLifecycle,
    "event_lifecycle": EventLifecycle,
    "event_fee_update": EventFeeUpdate,
    "order_group_updates": OrderGroupUpdate,
}
_COMMUNICATIONS = ("rfq_created", "rfq_deleted", "quote_created", "quote_accepted", "quote_executed")


def _envelope(t: str, body: type[Any]) -> type[Any]:
    seq: Any = int if t in SEQUENCED_TYPES else int | None
    fields: list[Any] = [("sid", int), ("msg", body), ("seq", seq, None), ("id", int | None, None)]
    if t in SEQUENCED_TYPES:
        fields = [("sid", int), ("seq", int), ("msg", body), ("id", int | None, None)]
    return msgspec.defstruct(f"Frame_{t}", fields, tag=t, tag_field="type", kw_only=True)


class _OkBody(msgspec.Struct):
    market_tickers: tuple[str, ...] | None = None
    market_ids: tuple[str, ...] | None = None


_FRAMES: dict[str, type[Any]] = {t: _envelope(t, body) for t, body in _DATA.items()}
_FRAMES.update({t: _envelope(t, dict[str, Any]) for t in _COMMUNICATIONS})
_FRAMES["subscribed"] = msgspec.defstruct(
    "Frame_subscribed",
    [("msg", SubscriptionInfo), ("id", int | None, None)],
    tag="subscribed",
    tag_field="type",
    kw_only=True,
)
_FRAMES["unsubscribed"] = msgspec.defstruct(
    "Frame_unsubscribed",
    [("sid", int), ("seq", int | None, None), ("id", int | None, None)],
    tag="unsubscribed",
    tag_field="type",
    kw_only=True,
)
_FRAMES["ok"] = msgspec.defstruct(
    "Frame_ok",
    [
        ("msg", tuple[SubscriptionInfo, ...] | _OkBody | None, None),
        ("id", int | None, None),
        ("sid", int | None, None),
        ("seq", int | None, None),
    ],
    tag="ok",
    tag_field="type",
    kw_only=True,
)

_FRAME_UNION: Any = None
for _frame in _FRAMES.values():
    _FRAME_UNION = _frame if _FRAME_UNION is None else _FRAME_UNION | _frame
_decode_frame = decoder(_FRAME_UNION)
_decode_any = msgspec.json.Decoder()


def _finish(t: str, frame: Any) -> Message:
    if t in _DATA:
        body = frame.msg
        check_legacy(t, body)
        body.sid = frame.sid
        if frame.seq is not None or t in SEQUENCED_TYPES:
            body.seq = frame.seq
        if t == "orderbook_snapshot":
            body.command_id = frame.id
        elif t == "orderbook_delta" and body.ts_ms is None and isinstance(body.legacy_ts, str):
            try:
                body.ts_ms = (parse_rfc3339(body.legacy_ts) - EPOCH) // _MS
            except (
                ValueError
            ) as exc:  # a malformed exchange message: the precise error, never a bare ValueError
                raise ProtocolError(f"orderbook_delta.ts: {exc}", obj=t, field="ts") from None
        elif t == "trade" and body.ts_ms is None:
            raise ProtocolError("trade is missing required field 'ts_ms'", obj=t, field="ts_ms")
        elif t == "multivariate_market_lifecycle":
            body.type = t
        result: Message = body
        return result
    if t in _COMMUNICATIONS:
        return CommunicationsMessage(type=t, sid=frame.sid, seq=frame.seq, msg=frame.msg)
    if t == "subscribed":
        return Subscribed(id=frame.id, channel=frame.msg.channel, sid=frame.msg.sid)
    if t == "unsubscribed":
        return Unsubscribed(id=frame.id, sid=frame.sid, seq=frame.seq)
    # ok
    msg = frame.msg
    if isinstance(msg, tuple):  # list_subscriptions
        return Ok(id=frame.id, sid=frame.sid, seq=frame.seq, subscriptions=msg)
    return Ok(
        id=frame.id,
        sid=frame.sid,
        seq=frame.seq,
        market_tickers=None if msg is None else msg.market_tickers,
        market_ids=None if msg is None else msg.market_ids,
    )


_MS = from_unix_ms(1) - EPOCH


def _check_snapshot_levels(frame: Mapping[str, Any]) -> None:
    """Both sides of a snapshot may legitimately be absent (an empty book); a list under some other name means
    Kalshi renamed the level field, which must not read as an empty book."""
    m = frame.get("msg")
    if not isinstance(m, Mapping) or "yes_dollars_fp" in m or "no_dollars_fp" in m:
        return
    for key, value in m.items():
        if isinstance(value, list):
            raise ProtocolError(
                f"orderbook_snapshot has an unrecognised level field {key!r} and no 'yes_dollars_fp'/'no_dollars_fp'",
                obj="orderbook_snapshot",
                field=key,
            )


def parse_message(frame: Mapping[str, Any]) -> Message:
    """One decoded WS frame (a dict) → its typed message. Raises ``ProtocolError`` on a malformed/legacy frame."""
    if not isinstance(frame, Mapping):
        shown = repr(frame)[:80]
        raise ProtocolError(
            f"message.<frame> must be a JSON object, got {type(frame).__name__} {shown}",
            obj="message",
            field="<frame>",
        )
    t = frame.get("type")
    if not isinstance(t, str):
        raise ProtocolError("message is missing required field 'type'", obj="message", field="type")
    if t in REMOVED_TYPES:
        raise ProtocolError(
            f"message type {t!r} is no longer part of the protocol: {REMOVED_TYPES[t]}", obj=t, field="type"
        )
    if t == "error":
        err = error_from_ws(frame)
        return ErrorMessage(id=err.command_id, sid=err.sid, error=err)
    frame_type = _FRAMES.get(t)
    if frame_type is None:
        return UnknownMessage(type=t, raw=frame)
    if t == "orderbook_snapshot":
        _check_snapshot_levels(frame)
    return _finish(t, convert(t, frame, frame_type))


def decode_message(raw: bytes | str) -> Message:
    """One WS frame as received (JSON text) → its typed message, decoded straight from the bytes; anything
    unusual (a command reply's error, an unknown type, a malformed frame) goes through ``parse_message``, which
    gives the same object or the precise ``ProtocolError``."""
    try:
        frame = _decode_frame.decode(raw)
    except msgspec.ValidationError:
        try:
            data = _decode_any.decode(raw)
        except msgspec.DecodeError:
            raise ProtocolError("WS frame is not JSON", obj="frame") from None
        return parse_message(data)
    except msgspec.DecodeError:
        raise ProtocolError("WS frame is not JSON", obj="frame") from None
    t = frame.type if hasattr(frame, "type") else type(frame).__struct_config__.tag
    if t == "orderbook_snapshot" and not frame.msg.yes and not frame.msg.no:
        return parse_message(_decode_any.decode(raw))
    return _finish(t, frame)


def encode_frame(type_: str, body: Body | Mapping[str, Any], **envelope: Any) -> bytes:
    """The simulator's side: ``{"type": …, <envelope>, "msg": body}`` as JSON bytes."""
    return msgspec.json.encode({"type": type_, **envelope, "msg": body})
