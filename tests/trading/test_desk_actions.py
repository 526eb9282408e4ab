"""The desk's flatten order and the trader's keyboard shortcuts (issue #16): what the order is for each
position and book, and that shortcuts are validated, saved per trader and read back into every page."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from tests.factories import make_user
from trading import hotkeys
from trading.flatten import NothingToFlatten, flatten_order
from trading.models import TraderProfile

BOOK = {"bids": [{"price": "0.41", "size": "10"}, {"price": "0.42", "size": "5"}],
        "asks": [{"price": "0.45", "size": "7"}, {"price": "0.44", "size": "3"}]}  # fmt: skip


def test_a_long_yes_sells_yes_reduce_only_ioc_at_the_best_bid():
    order = flatten_order(D("3"), BOOK)
    assert (order["outcome"], order["action"], order["price"], order["count"]) == (
        "yes",
        "sell",
        D("0.42"),
        D(3),
    )
    assert (order["time_in_force"], order["reduce_only"], order["post_only"]) == ("ioc", True, False)


def test_a_long_no_sells_no_at_one_minus_the_best_yes_ask():
    order = flatten_order(D("-2.5"), BOOK)
    assert (order["outcome"], order["price"], order["count"]) == ("no", D("0.56"), D("2.5"))


def test_no_position_or_no_bid_on_the_held_side_is_said_plainly():
    with pytest.raises(NothingToFlatten, match="no position"):
        flatten_order(D(0), BOOK)
    with pytest.raises(NothingToFlatten, match="bidding for YES"):
        flatten_order(D(1), {"asks": BOOK["asks"]})
    with pytest.raises(NothingToFlatten, match="bidding for NO"):
        flatten_order(D(-1), {"bids": BOOK["bids"], "asks": [{"price": "0.5", "size": "0"}]})


def test_shortcuts_refuse_browser_keys_and_one_key_for_two_actions():
    settings, errors = hotkeys.clean({"key_flatten": "Tab", "key_send": "f"})
    assert "belongs to the browser" in errors["flatten"]
    assert set(errors) == {"flatten"}  # only the refused key is named
    settings, errors = hotkeys.clean({"key_flatten": "q", "key_send": "f", "one_click": "on"})
    assert errors == {}
    assert settings == {"keys": {"flatten": "q", "send": "f"}, "one_click": True}
    _, errors = hotkeys.clean({"key_cancel_all": "x"})  # x is already "cancel last"
    assert "already the key of" in errors["cancel_all"]


@pytest.mark.django_db
def test_each_trader_saves_their_own_shortcuts_and_every_page_carries_them(client):
    alice, bob = make_user("alice"), make_user("bob")
    TraderProfile.objects.create(user=alice)
    TraderProfile.objects.create(user=bob)
    client.force_login(alice)
    refused = client.post("/orders/desk-settings/", {"key_flatten": "x"}, headers={"HX-Request": "true"})
    assert "already the key of" in refused.content.decode()
    assert TraderProfile.objects.get(user=alice).desk_settings == {}  # nothing saved
    saved = client.post(
        "/orders/desk-settings/", {"key_flatten": "q", "one_click": "on"}, headers={"HX-Request": "true"}
    )
    assert "Saved" in saved.content.decode()
    assert TraderProfile.objects.get(user=alice).desk_settings == {
        "keys": {"flatten": "q"},
        "one_click": True,
    }
    assert TraderProfile.objects.get(user=bob).desk_settings == {}

    page = client.get("/markets/").content.decode()
    start = page.index('id="kw-desk-settings"')
    carried = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
    assert carried["keys"]["flatten"] == "q" and carried["one_click"] is True
    client.force_login(bob)
    page = client.get("/markets/").content.decode()
    start = page.index('id="kw-desk-settings"')
    assert (
        json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])["keys"]["flatten"]
        == "f"
    )


@pytest.mark.django_db
def test_the_desk_remembers_the_orders_filter_and_the_rules_per_trader(client):
    from tests.factories import make_market

    market = make_market("KXFED-26DEC-T4.25")
    alice, bob = make_user("alice"), make_user("bob")
    TraderProfile.objects.create(user=alice)
    TraderProfile.objects.create(user=bob)
    client.force_login(alice)
    page = client.get(f"/markets/{market.ticker}/").content.decode()
    assert 'data-show="open"' in page and '<details class="desk-extra rules" data-remember' in page
    client.get(f"/orders/market/{market.ticker}/orders/", {"show": "all"}, headers={"HX-Request": "true"})
    assert client.post("/orders/desk-layout/", {"rules_open": "1"}).status_code == 204
    page = client.get(f"/markets/{market.ticker}/").content.decode()
    assert 'data-show="all"' in page and '<details class="desk-extra rules" open' in page
    # saving the shortcuts keeps the layout
    client.post("/orders/desk-settings/", {"key_flatten": "q"}, headers={"HX-Request": "true"})
    settings = TraderProfile.objects.get(user=alice).desk_settings
    assert settings["layout"] == {
        "orders_show": "all",
        "rules_open": True,
        "ladder_view": "yes",
        "book_w": None,
        "trade_w": None,
    }
    assert settings["keys"] == {"flatten": "q"}
    client.force_login(bob)  # his own desk
    page = client.get(f"/markets/{market.ticker}/").content.decode()
    assert 'data-show="open"' in page and 'desk-extra rules" open' not in page


@pytest.mark.django_db
def test_column_widths_are_kept_within_bounds(client):
    alice = make_user("alice")
    TraderProfile.objects.create(user=alice)
    client.force_login(alice)
    client.post("/orders/desk-layout/", {"book_w": "333"})
    assert hotkeys.layout(TraderProfile.objects.get(user=alice))["book_w"] == 333
    for bad in ("5000", "-1", "abc", "NaN", ""):
        client.post("/orders/desk-layout/", {"book_w": bad})
        assert hotkeys.layout(TraderProfile.objects.get(user=alice))["book_w"] is None  # back to the default
