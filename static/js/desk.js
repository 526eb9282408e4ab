/* The desk's browser-side work (issue #16): the click-to-trade ladder (a level loads the ticket; your own
   resting orders shown on their levels, dragged to amend, ✕ to cancel), the ticket's size presets and ticks,
   and the keyboard shortcuts with their "Keyboard shortcuts" overlay. Everything here drives the server-rendered
   forms (the ticket, the order rows' Cancel/Amend) — no second path to the server. Loaded on every page (lists
   use j/k, / and ?); the market-page parts do nothing where their elements are absent. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ---- settings: the trader's bindings and one-click, rendered into the page by the server ----------------
  function settings() {
    var el = document.getElementById("kw-desk-settings");
    if (!el) return { keys: {}, one_click: false };
    try { return JSON.parse(el.textContent); } catch (e) { return { keys: {}, one_click: false }; }
  }

  // ---- the ticket -----------------------------------------------------------------------------------------
  function ticketForm() { return $("#ticket form"); }
  function field(name) { var f = ticketForm(); return f ? f.elements[name] : null; }

  function setRadio(name, value) {
    var f = ticketForm();
    if (!f) return;
    $all('input[name="' + name + '"]', f).forEach(function (r) { r.checked = r.value === value; });
  }

  function changed(input) {
    // the ticket's preview listens for input/change on its fieldset (hx-trigger="input changed delay…, change")
    if (input) input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function tickCents() {
    var price = field("price_cents");
    var tick = price && parseFloat(price.dataset.tick || "1");
    return tick > 0 ? tick : 1;
  }

  function roundTo(value, tick) {
    var digits = (String(tick).split(".")[1] || "").length;
    return (Math.round(value / tick) * tick).toFixed(digits);
  }

  function moveTicks(n) {
    var price = field("price_cents");
    if (!price) return;
    var tick = tickCents();
    var now = parseFloat(price.value);
    if (isNaN(now)) return;
    var next = Math.min(100 - tick, Math.max(tick, now + n * tick));
    price.value = roundTo(next, tick);
    changed(price);
  }

  function setSize(size) {
    var count = field("count");
    if (!count) return;
    count.value = size;
    changed(count);
  }

  function placeButton() { return $('#ticket button[type="submit"]'); }

  /* Load the ticket: `outcome` (YES unless given) at `cents` (a price in that leg), buying or selling. */
  function loadTicket(action, cents, outcome) {
    var price = field("price_cents");
    if (!price) return false;
    setRadio("action", action);
    setRadio("outcome", outcome || "yes");
    price.value = cents;
    changed(price);
    var place = placeButton();
    if (settings().one_click && place && !place.disabled) {
      ticketForm().requestSubmit(place);
    } else if (place) {
      place.focus(); // Enter sends, as the confirm step
    }
    return true;
  }

  // ---- the ladder ---------------------------------------------------------------------------------------
  function pickLevel(row) {
    $all(".ladder tr.level.picked").forEach(function (r) { r.classList.remove("picked"); });
    row.classList.add("picked");
    // a bid level: buy YES there (joins the bid); an ask level: sell YES there (joins the ask). In the NO view
    // the same rows are the NO book: a YES ask at c is a NO bid at 100 − c (buy NO there), a YES bid a NO ask.
    if (noView()) {
      loadTicket(row.dataset.side === "ask" ? "buy" : "sell", noCents(row.dataset.cents), "no");
    } else {
      loadTicket(row.dataset.side === "bid" ? "buy" : "sell", row.dataset.cents);
    }
  }

  // ---- the NO view: the same book in NO prices (the feed pushes YES; the page turns it over) ---------------
  function bookColumn() { return $(".desk-book"); }
  function noView() { var col = bookColumn(); return !!col && col.dataset.ladderView === "no"; }
  function noCents(cents) {
    var c = 100 - parseFloat(cents);
    return String(Math.round(c * 10) / 10);
  }
  function applyLadderView() {
    var ladder = $(".ladder");
    if (!ladder) return;
    var want = noView() ? "no" : "yes", shown = ladder.dataset.view || "yes";
    if (want === shown) return;
    var body = $("tbody", ladder);
    var rows = $all("tr.level, tr.spread", body);
    var label = $("tr.side-label", body);
    rows.reverse().forEach(function (r) { body.insertBefore(r, label); });
    rows.forEach(function (r) {
      if (!r.classList.contains("level")) return;
      var cell = r.querySelector("td");
      var cents = want === "no" ? noCents(r.dataset.cents) : r.dataset.cents;
      cell.textContent = cents + "¢";
      cell.classList.toggle("yes", want === "no" ? r.dataset.side === "ask" : r.dataset.side === "bid");
      cell.classList.toggle("no", want === "no" ? r.dataset.side === "bid" : r.dataset.side === "ask");
      r.title = want === "no"
        ? (r.dataset.side === "ask" ? "Buy NO at " : "Sell NO at ") + cents + "¢"
        : (r.dataset.side === "bid" ? "Buy YES at " : "Sell YES at ") + cents + "¢";
    });
    var top = $("th.top-label", ladder), bottom = $("th.bottom-label", ladder);
    if (top) top.textContent = want === "no" ? "NO asks (= YES bids)" : "YES asks (= NO bids)";
    if (bottom) bottom.textContent = want === "no" ? "NO bids (= YES asks)" : "YES bids (= NO asks)";
    ladder.dataset.view = want;
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target instanceof Element && ev.target.closest(".ladder-view [data-ladder-view]");
    var col = bookColumn();
    if (!button || !col) return;
    col.dataset.ladderView = button.dataset.ladderView;
    $all(".ladder-view [data-ladder-view]").forEach(function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    applyLadderView();
    if (col.dataset.remember && window.htmx) {
      htmx.ajax("POST", col.dataset.remember, { values: { ladder_view: button.dataset.ladderView }, swap: "none" });
    }
  });
  document.addEventListener("htmx:afterSettle", applyLadderView);
  document.addEventListener("htmx:oobAfterSwap", applyLadderView);
  document.addEventListener("DOMContentLoaded", applyLadderView);

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var cancel = t.closest(".own-order [data-cancel]");
    if (cancel) {
      ev.stopPropagation();
      var button = $("#order-" + cancel.dataset.cancel + ' form button[type="submit"]');
      if (button) button.click();
      return;
    }
    var row = t.closest(".ladder tr.level");
    if (row) { pickLevel(row); return; }
    var preset = t.closest("#ticket .preset");
    if (preset) { setSize(preset.dataset.size); return; }
    var tick = t.closest("#ticket .tick");
    if (tick) { moveTicks(parseInt(tick.dataset.ticks, 10)); return; }
    if (t.closest("[data-kb-open]")) { openHelp(); return; }
    if (t.closest("[data-kb-close]")) { closeHelp(); }
  });

  document.addEventListener("keydown", function (ev) {
    var row = ev.target instanceof Element && ev.target.closest(".ladder tr.level");
    if (row && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); pickLevel(row); }
  });

  function orderSide(row) {
    var buyYes = (row.dataset.outcome === "yes") === (row.dataset.action === "buy");
    return buyYes ? "bid" : "ask";
  }

  /* Your resting orders on their ladder levels, from the "My orders" rows (live or polled, the same rows). */
  var drawnLadder = null, drawnSignature = null;
  function markOwnOrders() {
    var ladder = $(".ladder");
    // not while an order is being dragged: redrawing would remove the dragged marker and end the drag (the
    // queue-position poll and the book's pushes settle every few seconds); dragend redraws
    if (!ladder || dragging) return;
    // Redraw only when the orders or the ladder changed: a redraw between a press on a marker and the move that
    // starts its drag would take the pressed marker away (every swap on the page settles here).
    var rows = $all("#open-orders-body tr.order.is-open");
    function ahead(r) { var q = $("#queue-" + r.dataset.order); return q ? q.textContent.trim() : ""; }
    var signature = rows.map(function (r) {
      return [r.dataset.order, r.dataset.yesCents, r.dataset.left, r.dataset.amendable, r.dataset.cancelable, ahead(r)].join(":");
    }).join(",");
    if (ladder === drawnLadder && signature === drawnSignature) return;
    drawnLadder = ladder;
    drawnSignature = signature;
    $all("td.own", ladder).forEach(function (td) { td.textContent = ""; });
    rows.forEach(function (row) {
      var level = $('tr.level[data-side="' + orderSide(row) + '"][data-cents="' + row.dataset.yesCents + '"]', ladder);
      if (!level) return;
      var tag = document.createElement("span");
      tag.className = "own-order " + row.dataset.action;
      tag.draggable = row.dataset.amendable === "true";
      tag.dataset.order = row.dataset.order;
      tag.title = "Your order: " + row.dataset.action + " " + row.dataset.left + " " + row.dataset.outcome.toUpperCase() +
        (tag.draggable ? " (drag to another level to amend)" : "");
      tag.appendChild(document.createTextNode((row.dataset.action === "buy" ? "B " : "S ") + row.dataset.left));
      var queue = ahead(row); // the queue position ("103 ahead"), once the exchange has reported it
      if (queue) {
        var q = document.createElement("small");
        q.className = "own-queue";
        q.textContent = " · " + queue;
        tag.appendChild(q);
      }
      if (row.dataset.cancelable === "true") {
        var x = document.createElement("button");
        x.type = "button";
        x.dataset.cancel = row.dataset.order;
        x.setAttribute("aria-label", "Cancel your order " + row.dataset.order);
        x.textContent = "✕";
        tag.appendChild(x);
      }
      level.querySelector("td.own").appendChild(tag);
    });
  }

  // drag an own order to another level: an amend of its limit (same total size) through the row's amend form
  var dragging = null;
  document.addEventListener("dragstart", function (ev) {
    var tag = ev.target instanceof Element && ev.target.closest(".own-order");
    if (!tag) return;
    dragging = tag.dataset.order;
    ev.dataTransfer.setData("text/plain", dragging);
    ev.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", function (ev) {
    var level = dragging && ev.target instanceof Element && ev.target.closest(".ladder tr.level");
    if (!level) return;
    ev.preventDefault();
    $all(".ladder tr.drop-target").forEach(function (r) { if (r !== level) r.classList.remove("drop-target"); });
    level.classList.add("drop-target");
  });
  document.addEventListener("dragend", function () {
    dragging = null;
    $all(".ladder tr.drop-target").forEach(function (r) { r.classList.remove("drop-target"); });
    drawnSignature = null; // what changed during the drag is drawn now
    markOwnOrders();
  });
  document.addEventListener("drop", function (ev) {
    var level = dragging && ev.target instanceof Element && ev.target.closest(".ladder tr.level");
    if (!level) return;
    ev.preventDefault();
    amendTo(dragging, level.dataset.cents);
    dragging = null;
  });

  function amendTo(orderId, yesCents) {
    var row = document.getElementById("order-" + orderId);
    if (!row || !window.htmx) return;
    var cents = parseFloat(yesCents);
    var legCents = row.dataset.outcome === "yes" ? yesCents : roundTo(100 - cents, tickCents());
    window.htmx.ajax("POST", row.dataset.amendUrl, {
      source: row, target: row, swap: "outerHTML",
      values: { count: row.dataset.count, price_cents: legCents },
    });
  }

  // ---- keyboard shortcuts -------------------------------------------------------------------------------
  // the trader's keys, every action filled in by the server (trading/hotkeys.py: their own, else the default)
  function bindings() { return settings().keys || {}; }

  function typing(target) {
    if (!(target instanceof Element)) return false;
    return !!target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]');
  }

  function best(side) {
    var prices = $all('.ladder tr.level[data-side="' + side + '"]').map(function (r) { return parseFloat(r.dataset.cents); });
    if (!prices.length) return null;
    return side === "bid" ? Math.max.apply(null, prices) : Math.min.apply(null, prices);
  }

  function fmt(cents) { return roundTo(cents, tickCents()); }

  function listRows() { return $all("[data-kb-row]"); }

  function moveInList(step) {
    var rows = listRows();
    if (!rows.length) return;
    var at = rows.indexOf(document.activeElement);
    var next = rows[Math.min(rows.length - 1, Math.max(0, at + step))];
    if (at === -1) next = rows[0];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  var actions = {
    help: function () { openHelp(); },
    search: function () { var s = $('.topbar input[type="search"]'); if (s) { s.focus(); s.select(); } },
    next: function () { moveInList(1); },
    prev: function () { moveInList(-1); },
    open: function () {
      var rows = listRows();
      var row = rows.indexOf(document.activeElement) >= 0 ? document.activeElement : null;
      if (row && row.href) window.location.assign(row.href);
    },
    buy_bid: function () { var p = best("bid"); if (p !== null) loadTicket("buy", fmt(p)); },
    buy_ask: function () { var p = best("ask"); if (p !== null) loadTicket("buy", fmt(p)); },
    sell_ask: function () { var p = best("ask"); if (p !== null) loadTicket("sell", fmt(p)); },
    sell_bid: function () { var p = best("bid"); if (p !== null) loadTicket("sell", fmt(p)); },
    mid: function () {
      var b = best("bid"), a = best("ask");
      var price = field("price_cents");
      if (b === null || a === null || !price) return;
      price.value = fmt((a + b) / 2);
      changed(price);
    },
    tick_up: function () { moveTicks(1); },
    tick_down: function () { moveTicks(-1); },
    send: function () { var b = placeButton(); if (b && !b.disabled) ticketForm().requestSubmit(b); },
    cancel_last: function () {
      var b = $('#open-orders-body tr.order.is-open form button[type="submit"]');
      if (b) b.click();
    },
    cancel_all: function () {
      // the same request as the "Cancel all in market" button (its confirm step is the button's, not the key's)
      var form = $("#orders-panel form.cancel-market");
      if (form && window.htmx) {
        // sourced from the panel, not the form: htmx would ask the form's hx-confirm (the key is the decision)
        var panel = document.getElementById("orders-panel");
        window.htmx.ajax("POST", form.getAttribute("hx-post"), { source: panel, target: panel, swap: "outerHTML" });
      }
    },
    flatten: function () { var b = $("#desk-actions button.flatten"); if (b && !b.disabled) b.click(); },
    size_1: function () { presetAt(0); }, size_2: function () { presetAt(1); }, size_3: function () { presetAt(2); },
    size_4: function () { presetAt(3); }, size_5: function () { presetAt(4); },
  };

  function presetAt(i) {
    var p = $all("#ticket .preset")[i];
    if (p) setSize(p.dataset.size);
  }

  function keyName(ev) {
    if (ev.key === "=" && !ev.shiftKey) return "+"; // the + key without shift on most layouts
    return ev.key;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    var help = document.getElementById("kb-help");
    if (help && help.open) return; // the dialog has the keyboard (Escape closes it)
    if (typing(ev.target)) return; // never while typing in a field
    var key = keyName(ev);
    var keys = bindings();
    var action = Object.keys(keys).filter(function (a) { return keys[a] === key; })[0];
    if (!action) return;
    // Enter on a focused control (a button, a link, a ladder level, a list row) does what that control does
    if (key === "Enter" && ev.target instanceof Element && ev.target.closest("button, a, summary, [tabindex]")) return;
    ev.preventDefault();
    actions[action]();
  });

  function openHelp() {
    var help = document.getElementById("kb-help");
    if (help && !help.open) help.showModal();
  }
  function closeHelp() {
    var help = document.getElementById("kb-help");
    if (help && help.open) help.close();
  }

  // ---- the desk's height: the grid fills the viewport under the sticky top bar and the market header -----
  function fit() {
    var grid = $(".desk-grid");
    if (!grid) return;
    var top = grid.getBoundingClientRect().top + window.scrollY;
    document.documentElement.style.setProperty("--desk-top", Math.ceil(top + 8) + "px");
  }

  /* A pushed order row never replaces the amend form the trader has open on that order while the order is still
     amendable (a fill or a queue update would wipe what they are typing); once it is finished, it does. */
  document.addEventListener("htmx:oobBeforeSwap", function (ev) {
    var target = ev.detail && ev.detail.target;
    if (!(target instanceof Element) || !target.classList.contains("amend-row")) return;
    var incoming = ev.detail.fragment && ev.detail.fragment.querySelector ? ev.detail.fragment.querySelector("tr.order") : null;
    if (!incoming && ev.detail.fragment instanceof Element && ev.detail.fragment.matches("tr.order")) incoming = ev.detail.fragment;
    if (incoming && incoming.getAttribute("data-amendable") === "true") ev.detail.shouldSwap = false;
  });

  /* The same when the whole orders panel is re-rendered (a new order, a poll): the open amend form is put back
     in place of its order's new row, if that order can still be amended. */
  var openAmends = [];
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var target = ev.detail && ev.detail.target;
    openAmends = target && target.id === "orders-panel" ? $all("tr.amend-row", target) : [];
  });
  document.addEventListener("htmx:afterSwap", function () {
    openAmends.forEach(function (form) {
      var row = document.getElementById(form.id);
      if (row && row !== form && row.getAttribute("data-amendable") === "true") row.replaceWith(form);
    });
    openAmends = [];
  });

  /* A keyboard user's place in the book survives its pushes: the focused level is focused again in the new
     ladder (the same side and price, else the nearest price on that side). */
  var focusedLevel = null;
  function rememberFocus(ev) {
    var target = ev.detail && ev.detail.target, active = document.activeElement;
    if (!target || !(active instanceof Element) || !target.contains(active)) return;
    var row = active.closest(".ladder tr.level");
    if (row) focusedLevel = { side: row.dataset.side, cents: parseFloat(row.dataset.cents) };
  }
  function restoreFocus() {
    if (!focusedLevel || (document.activeElement && document.activeElement !== document.body)) { focusedLevel = null; return; }
    var want = focusedLevel;
    focusedLevel = null;
    var best = null, gap = Infinity;
    $all('.ladder tr.level[data-side="' + want.side + '"]').forEach(function (r) {
      var d = Math.abs(parseFloat(r.dataset.cents) - want.cents);
      if (d < gap) { gap = d; best = r; }
    });
    if (best) best.focus({ preventScroll: true });
  }
  document.addEventListener("htmx:oobBeforeSwap", rememberFocus);
  document.addEventListener("htmx:beforeSwap", rememberFocus);
  document.addEventListener("htmx:oobAfterSwap", restoreFocus);
  document.addEventListener("htmx:afterSettle", restoreFocus);

  function refresh() { markOwnOrders(); }
  document.addEventListener("DOMContentLoaded", function () { fit(); refresh(); });
  window.addEventListener("resize", fit);
  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("htmx:oobAfterSwap", refresh);
})();
/* The desk remembers how the trader left it (per trader, on the server): whether the rules are open. The orders
   panel's Open/All filter is remembered by the panel's own request. */
document.addEventListener("toggle", function (ev) {
  var box = ev.target;
  if (!(box instanceof HTMLDetailsElement) || !box.dataset.remember || !window.htmx) return;
  htmx.ajax("POST", box.dataset.remember, { values: { rules_open: box.open ? "1" : "0" }, swap: "none" });
}, true);
/* The desk's column widths: drag a splitter (or focus it and use the arrow keys); kept per trader. */
(function () {
  var BOUNDS = [200, 720];
  function grid() { return document.querySelector(".desk-grid"); }
  function column(which) { return document.querySelector(which === "book" ? ".desk-book" : ".desk-trade"); }
  function setWidth(which, px) {
    var g = grid();
    if (!g) return null;
    var w = Math.round(Math.min(BOUNDS[1], Math.max(BOUNDS[0], px)));
    g.style.setProperty(which === "book" ? "--book-w" : "--trade-w", w + "px");
    return w;
  }
  function save(which, px) {
    var remember = document.querySelector(".desk-book[data-remember]");
    if (!remember || !window.htmx) return;
    var values = {};
    values[which === "book" ? "book_w" : "trade_w"] = String(px);
    htmx.ajax("POST", remember.dataset.remember, { values: values, swap: "none" });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var g = grid();
    if (!g) return;
    if (g.dataset.bookW) setWidth("book", parseFloat(g.dataset.bookW));
    if (g.dataset.tradeW) setWidth("trade", parseFloat(g.dataset.tradeW));
  });
  document.addEventListener("pointerdown", function (ev) {
    var split = ev.target instanceof Element && ev.target.closest(".col-split");
    if (!split) return;
    ev.preventDefault();
    var which = split.dataset.split, col = column(which);
    if (!col) return;
    var startX = ev.clientX, startW = col.getBoundingClientRect().width, last = startW;
    split.classList.add("dragging");
    split.setPointerCapture(ev.pointerId);
    function move(e) {
      var dx = e.clientX - startX;
      last = setWidth(which, which === "book" ? startW + dx : startW - dx) || last;
    }
    function up() {
      split.classList.remove("dragging");
      split.removeEventListener("pointermove", move);
      split.removeEventListener("pointerup", up);
      save(which, last);
    }
    split.addEventListener("pointermove", move);
    split.addEventListener("pointerup", up);
  });
  document.addEventListener("keydown", function (ev) {
    var split = ev.target instanceof Element && ev.target.closest(".col-split");
    if (!split || (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight")) return;
    ev.preventDefault();
    var which = split.dataset.split, col = column(which);
    if (!col) return;
    var step = (ev.key === "ArrowRight" ? 16 : -16) * (which === "book" ? 1 : -1);
    var w = setWidth(which, col.getBoundingClientRect().width + step);
    if (w) save(which, w);
  });
})();
