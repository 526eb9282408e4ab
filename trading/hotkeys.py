"""The desk's keyboard shortcuts and one-click setting, per trader (issue #16).

`static/js/desk.js` does what each action means; this module holds the list (shown in the "Keyboard
shortcuts" overlay, in this order), the defaults, and the trader's own bindings stored on their profile
(`TraderProfile.desk_settings`: {"keys": {action: key}, "one_click": bool}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Action:
    name: str
    default: str
    label: str
    button: str  # the visible control that does the same


ACTIONS: tuple[Action, ...] = (
    Action("help", "?", "Show these shortcuts", "the Shortcuts button"),
    Action("search", "/", "Search markets", "the search box"),
    Action("next", "j", "Next market in a list", "scroll"),
    Action("prev", "k", "Previous market in a list", "scroll"),
    Action("open", "o", "Open the selected market (Enter on it works too)", "the market's link"),
    Action("buy_bid", "b", "Ticket: buy YES at the best bid (joins the bid)", "a bid level of the ladder"),
    Action("buy_ask", "B", "Ticket: buy YES at the best ask (takes it)", "the Buy toggle and the limit"),
    Action("sell_ask", "s", "Ticket: sell YES at the best ask (joins the ask)", "an ask level of the ladder"),
    Action("sell_bid", "S", "Ticket: sell YES at the best bid (takes it)", "the Sell toggle and the limit"),
    Action("mid", "m", "Ticket: limit at the mid", "the limit field"),
    Action("tick_up", "+", "Limit one tick higher", "▲"),
    Action("tick_down", "-", "Limit one tick lower", "▼"),
    Action("size_1", "1", "Size preset 1", "the first size button"),
    Action("size_2", "2", "Size preset 2", "the second size button"),
    Action("size_3", "3", "Size preset 3", "the third size button"),
    Action("size_4", "4", "Size preset 4", "the fourth size button"),
    Action("size_5", "5", "Size preset 5", "the fifth size button"),
    Action("send", "Enter", "Send the ticket", "Place order"),
    Action("cancel_last", "x", "Cancel your newest open order here", "its Cancel button"),
    Action("cancel_all", "X", "Cancel all your orders in this market", "Cancel all in market"),
    Action("flatten", "f", "Flatten your position in this market", "Flatten position"),
)
DEFAULTS = {a.name: a.default for a in ACTIONS}
# Keys a binding may not take: they belong to the browser or to the form a trader is in.
RESERVED = {"Tab", "Escape", " ", "Backspace", "Delete"}
MAX_KEY_LENGTH = 12  # "Enter", "ArrowUp", a single character…


def stored(profile: Any) -> dict[str, Any]:
    raw = getattr(profile, "desk_settings", None) or {}
    return raw if isinstance(raw, dict) else {}


def bindings(profile: Any) -> dict[str, str]:
    """Each action's key for this trader: their own where they set one, else the default."""
    own = stored(profile).get("keys") or {}
    return {name: str(own.get(name) or default) for name, default in DEFAULTS.items()}


def one_click(profile: Any) -> bool:
    return bool(stored(profile).get("one_click"))


def layout(profile: Any) -> dict[str, Any]:
    """How the trader left the desk: the orders panel's filter ("open" or "all"), whether the rules are open, and
    the ladder's prices ("yes", or "no": the NO book)."""
    saved = stored(profile).get("layout") or {}
    return {
        "orders_show": "all" if saved.get("orders_show") == "all" else "open",
        "rules_open": bool(saved.get("rules_open")),
        "ladder_view": "no" if saved.get("ladder_view") == "no" else "yes",
        "book_w": _width(saved.get("book_w")),
        "trade_w": _width(saved.get("trade_w")),
    }


MIN_WIDTH, MAX_WIDTH = 200, 720  # px: a column narrower or wider is not kept


def _width(value: Any) -> int | None:
    """A column width the trader set (px), or None (the default) for anything else."""
    try:
        width = int(value)
    except (TypeError, ValueError):
        return None
    return width if MIN_WIDTH <= width <= MAX_WIDTH else None


def remember_layout(profile: Any, **changes: Any) -> None:
    """Keep a change of the desk's layout (only the known settings; nothing written when nothing changed)."""
    if profile is None:
        return
    current = layout(profile)
    wanted = {**current, **{k: v for k, v in changes.items() if k in current}}
    for key in ("book_w", "trade_w"):
        wanted[key] = _width(wanted[key])
    if wanted != current:
        profile.desk_settings = {**stored(profile), "layout": wanted}
        profile.save(update_fields=["desk_settings"])


def client_settings(profile: Any) -> dict[str, Any]:
    """What desk.js reads (a JSON script element on every page)."""
    return {"keys": bindings(profile), "one_click": one_click(profile)}


def clean(data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings a form posted (key_<action> fields, one_click), and an error per field that is wrong."""
    keys: dict[str, str] = {}
    errors: dict[str, str] = {}
    taken: dict[str, str] = {}
    for action in ACTIONS:
        key = (data.get(f"key_{action.name}") or "").strip() or action.default
        if key in RESERVED:
            errors[action.name] = f"“{key}” belongs to the browser: choose another key."
        elif len(key) > MAX_KEY_LENGTH:
            errors[action.name] = "One key: a character, or a key name such as Enter."
        elif key in taken:
            errors[action.name] = f"“{key}” is already the key of “{taken[key]}”."
        else:
            taken[key] = action.label
            if key != action.default:
                keys[action.name] = key
    return {"keys": keys, "one_click": data.get("one_click") in ("on", "true", "1")}, errors


def overlay_context(profile: Any, errors: dict[str, str] | None = None, posted: Any = None) -> dict[str, Any]:
    """The "Keyboard shortcuts" overlay's rows (the trader's keys, or what a refused form posted) and what
    desk.js reads."""
    keys = bindings(profile)
    errors = errors or {}
    if posted is not None:
        keys = {name: (posted.get(f"key_{name}") or "").strip() or key for name, key in keys.items()}
    return {
        "kb_rows": [
            {
                "name": a.name,
                "key": keys[a.name],
                "label": a.label,
                "button": a.button,
                "error": errors.get(a.name, ""),
            }
            for a in ACTIONS
        ],
        "kb_one_click": one_click(profile),
        "kb_client": client_settings(profile),
        "kb_can_save": profile is not None,
    }
