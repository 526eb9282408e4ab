// Connection state for the live/polling switch. Polling elements carry hx-trigger="kw:poll from:body": the
// timer below fires kw:poll every 5 s only while the socket is down (an event instead of a trigger filter such
// as [document.body.dataset.live !== 'true'], which htmx evaluates with eval and the Content-Security-Policy
// forbids). kw:poll30 fires every 30 s while down, kw:livetick every 10 s while live.
(function () {
  var ticks = 0;
  setInterval(function () {
    if (!window.htmx || !document.body) return;
    ticks += 1;
    var live = document.body.dataset.live === "true";
    if (!live) htmx.trigger(document.body, "kw:poll");
    if (!live && ticks % 6 === 0) htmx.trigger(document.body, "kw:poll30");
    if (live && ticks % 2 === 0) htmx.trigger(document.body, "kw:livetick");
  }, 5000);
})();
(function () {
  function setState(state, title) {
    document.body.dataset.live = state === "live" ? "true" : "false";
    var badge = document.getElementById("conn-badge");
    if (!badge) return;
    badge.className = "conn-badge conn-" + state;
    badge.textContent = state === "live" ? "Live" : state === "polling" ? "Polling" : "Offline";
    badge.title = title;
  }
  function toast(text) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast";
    el.textContent = text;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 5000);
  }
  // A response whose target was replaced while it was in flight (a panel re-rendered under an order row the
  // trader had just clicked) goes to the element that now has the target's id, not into the detached node.
  // htmx fires its swap event on the target, and a target that left the page with the old panel passes it to
  // no document listener: the listener goes on each request's target itself.
  function retargetDetached(evt) {
    var target = evt.detail && evt.detail.target;
    if (target instanceof Element && !target.isConnected && target.id) {
      var now = document.getElementById(target.id);
      if (now) evt.detail.target = now;
    }
  }
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!(target instanceof Element) || !target.id || target.kwRetargets) return;
    target.kwRetargets = true;
    target.addEventListener("htmx:beforeSwap", retargetDetached);
  });

  // Liveness and flow control: answer the server's ping comments as soon as they are read (each answer tells
  // the server that everything before the ping was read, and it stops sending market data to a page that lags
  // a window behind; it closes sockets that stop answering), and keep them out of htmx.
  document.addEventListener("htmx:wsBeforeMessage", function (evt) {
    var m = /^<!--kw:ping:(\d+)-->$/.exec(evt.detail.message || "");
    if (!m) return;
    evt.preventDefault();
    try { evt.detail.socketWrapper.sendImmediately(JSON.stringify({ action: "pong", n: parseInt(m[1], 10) }), evt.target); } catch (e) { /* closed */ }
  });
  var wasLive = false;
  document.addEventListener("htmx:wsOpen", function () {
    setState("live", "Live over WebSocket");
    // Pushes are notifications; the database is the truth: re-render my orders and fills on (re)connect.
    if (window.htmx) htmx.trigger(document.body, "kw:resync");
    if (wasLive === false && document.body.dataset.everLive === "true") toast("Live again");
    wasLive = true;
    document.body.dataset.everLive = "true";
  });
  // The server closes sockets on purpose with 4012 (restart) / 4013 (try later): reconnect with full-jitter
  // backoff, as the ws extension itself does for 1006/1011/1012/1013.
  var serverRetries = 0;
  document.addEventListener("htmx:wsOpen", function () { serverRetries = 0; });
  document.addEventListener("htmx:wsClose", function (evt) {
    var code = evt.detail && evt.detail.event ? evt.detail.event.code : 0;
    var wrapper = evt.detail && evt.detail.socketWrapper;
    if ((code === 4012 || code === 4013) && wrapper && wrapper.reconnect) {
      var delay = Math.random() * 1000 * Math.pow(2, Math.min(serverRetries, 6));
      serverRetries += 1;
      setTimeout(function () { wrapper.reconnect(); }, delay);
    }
  });
  // Closed by the server on purpose with a reason to show (e.g. 4008: too many open pages): say so; the page
  // keeps polling (the ws extension does not reconnect on such a code).
  document.addEventListener("htmx:wsClose", function (evt) {
    var event = evt.detail && evt.detail.event;
    if (event && event.code === 4008) {
      var box = document.getElementById("ws-error");
      if (box && !box.textContent) box.textContent = "Too many open pages: this page updates by polling. Close other kalshiweb tabs and reload it to go live again.";
    }
  });
  document.addEventListener("htmx:wsClose", function () {
    setState("polling", "WebSocket closed: polling every few seconds");
    if (wasLive) {
      toast("Connection lost: polling");
      // What the page shows may already be old (the server may have died): no trading on it until a poll (or
      // the socket, back) brings the book again. Reconnects that fail before that do not move the mark.
      var book = document.querySelector(".book.live-widget");
      window.kwTicketLock = { book: book };
      if (window.kwUpdateTicket) window.kwUpdateTicket();
    }
    wasLive = false;
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (document.getElementById("live-socket")) setState("polling", "Connecting…");
  });
  // Show the age of every live widget's data ("updated 12 s ago", "stale").
  setInterval(function () {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-ts]").forEach(function (el) {
      var ts = parseFloat(el.dataset.ts || "0");
      var staleAfter = parseFloat(el.dataset.staleAfter || "30");
      var out = el.querySelector(".freshness");
      if (!ts || !out) return;
      var age = Math.max(0, Math.round(now - ts));
      el.classList.toggle("stale", age > staleAfter);
      out.textContent = age > staleAfter ? "stale · " + age + " s old" : age > 3 ? "updated " + age + " s ago" : "";
    });
  }, 1000);
})();
// Close-time countdowns ("Closes in 3d 04:12:33").
setInterval(function () {
  document.querySelectorAll(".countdown[data-close]").forEach(function (el) {
    var left = Math.floor(parseFloat(el.dataset.close) - Date.now() / 1000);
    if (isNaN(left)) return;
    if (left <= 0) { el.textContent = "Closed"; return; }
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    el.textContent = "Closes in " + (d ? d + "d " : "") + two(h) + ":" + two(m) + ":" + two(s);
  });
}, 1000);

// Never trade on stale data: the ticket follows the book's freshness, and locks the moment the live socket
// drops until the book has been fetched again (window.kwTicketLock, set on close; a poll or the socket's
// snapshot replaces the book element, which lifts it when that book is fresh).
var lastTicketRefresh = 0;
// The ticket's request is made on behalf of the ticket itself (`source`): without one htmx makes it for the
// document's body, and queues it behind any other body-level request still in flight.
function refreshTicket(section) {
  lastTicketRefresh = Date.now();
  htmx.ajax("GET", section.dataset.refreshUrl, { source: section, target: section, swap: "outerHTML" });
}
window.kwUpdateTicket = function () {
  var ticket = document.querySelector("#ticket fieldset");
  var book = document.querySelector(".book.live-widget");
  if (!ticket || !book) return;
  var lock = window.kwTicketLock;
  if (lock && lock.book !== book && book.dataset.stale === "false" && book.dataset.ts && !book.classList.contains("stale")) {
    window.kwTicketLock = lock = null;
  }
  if (ticket.dataset.serverBlocked === "account") return;  // halted, view-only, market closed: no polling
  // The market's status badge says it no longer trades but the ticket was not re-rendered since (its re-render
  // lost a race with another swap of the ticket): ask for it again, the server locks it.
  var status = document.querySelector(".detail-head .status[data-status]");
  var section = document.getElementById("ticket");
  if (status && status.dataset.status !== "active" && section && window.htmx && Date.now() - lastTicketRefresh > 3000) {
    refreshTicket(section);
    return;
  }
  if (ticket.dataset.serverBlocked === "data") {
    // The server refused the ticket (no book yet, feed down, halted…): ask again once data is current.
    var fresh = book.dataset.stale === "false" && book.dataset.ts && !book.classList.contains("stale");
    if (fresh && window.htmx && section && Date.now() - lastTicketRefresh > 3000) {
      refreshTicket(section);
    }
    return;
  }
  var stale = book.dataset.stale === "true" || book.classList.contains("stale");
  ticket.disabled = stale || !!lock;
  var note = document.getElementById("ticket-stale");
  if (note) {
    note.textContent = lock ? "Live connection lost: trading is paused until fresh market data arrives."
      : stale ? "Market data is stale: trading is paused until it is current." : "";
  }
};
setInterval(window.kwUpdateTicket, 1000);
document.addEventListener("htmx:afterSettle", function () { window.kwUpdateTicket(); });
// A pushed signal (an OOB swap of #kw-signal) becomes a body event that the panels it concerns listen for:
// e.g. kw:orders-changed re-renders every orders panel when an order was placed in another tab or process.
document.addEventListener("htmx:oobAfterSwap", function (evt) {
  var el = evt.target;  // the swapped-in element (evt.detail.target is the one it replaced)
  if (!el || el.id !== "kw-signal" || !window.htmx) return;
  var name = el.dataset.event || "";
  if (/^kw:[a-z-]+$/.test(name)) htmx.trigger(document.body, name);
});
// Toasts close by themselves.
document.addEventListener("htmx:oobAfterSwap", function () {
  document.querySelectorAll(".toast[data-autoclose]").forEach(function (el) {
    var secs = parseFloat(el.dataset.autoclose); el.removeAttribute("data-autoclose");
    setTimeout(function () { el.remove(); }, secs * 1000);
  });
});
// Alerts: a pushed alert toast also becomes a browser notification when the trader allowed them (the alerts
// page has the button that asks; the browser remembers the answer per site).
document.addEventListener("htmx:oobAfterSwap", function () {
  document.querySelectorAll(".toast[data-notify]").forEach(function (el) {
    var text = el.dataset.notify;
    el.removeAttribute("data-notify");
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification("kalshiweb", { body: text }); } catch (e) { /* some browsers only notify from a service worker */ }
    }
  });
});
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("notify-permission"), state = document.getElementById("notify-state");
  if (!button || !window.Notification) return;
  function show() {
    var p = Notification.permission;
    button.hidden = p !== "default";
    if (state) state.textContent = p === "granted" ? "Browser notifications are on." : p === "denied" ? "Browser notifications are blocked for this site (the browser's setting)." : "";
  }
  button.addEventListener("click", function () { Notification.requestPermission().then(show); });
  show();
});
// Prices coloured by the direction of their last change: each pushed or polled quote row is compared with the
// one it replaces (YES bid, ask, last); the colour stays until that price moves again.
(function () {
  var before = {}, direction = {};
  var FIELDS = ["bid", "ask", "last"];
  function capture(evt) {
    var old = evt.detail && evt.detail.target;
    if (old && old.classList && old.classList.contains("quote-cells") && old.id) {
      before[old.id] = { bid: old.dataset.bid, ask: old.dataset.ask, last: old.dataset.last };
    }
  }
  function paint(el) {
    if (!el || !el.classList || !el.classList.contains("quote-cells") || !el.id) return;
    var was = before[el.id], dirs = direction[el.id] || (direction[el.id] = {});
    delete before[el.id];
    var spans = el.querySelectorAll(":scope > span");
    FIELDS.forEach(function (name, i) {
      var now = parseFloat(el.dataset[name]), then = was ? parseFloat(was[name]) : NaN;
      if (!isNaN(now) && !isNaN(then) && now !== then) dirs[name] = now > then ? "up" : "down";
      var span = spans[i];
      if (!span) return;
      span.classList.toggle("tick-up", dirs[name] === "up");
      span.classList.toggle("tick-down", dirs[name] === "down");
    });
  }
  document.addEventListener("htmx:oobBeforeSwap", capture);
  document.addEventListener("htmx:beforeSwap", capture);
  document.addEventListener("htmx:oobAfterSwap", function (evt) { paint(evt.target); });
  document.addEventListener("htmx:afterSwap", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (target && target.id && document.getElementById(target.id)) paint(document.getElementById(target.id));
  });
})();
// A plain form that asks first (data-confirm): the browser's own confirm dialog, no inline script.
document.addEventListener("submit", function (evt) {
  var form = evt.target;
  var message = form && form.dataset ? form.dataset.confirm : "";
  if (message && !window.confirm(message)) evt.preventDefault();
});
