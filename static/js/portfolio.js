// The portfolio page (templates/portfolio/portfolio.html): live figures and positions to watch.
(function () {
  // Every message on the page's socket (a quote of a held market, a fill, a position update) asks for
  // fresh figures, coalesced: at most one request per 750 ms, and the last message is never left out.
  var pending = null;
  document.addEventListener("htmx:wsAfterMessage", function () {
    if (pending) return;
    pending = setTimeout(function () { pending = null; htmx.trigger(document.body, "kw:portfoliotick"); }, 750);
  });
  // A position in a market the socket does not watch yet (opened since the page loaded): watch it too.
  var socket = null, watched = {};
  function watchPositions() {
    if (!socket) return;
    var fresh = [];
    document.querySelectorAll(".pf-row[data-ticker]").forEach(function (el) {
      var t = el.dataset.ticker;
      if (!watched[t]) { watched[t] = true; fresh.push(t); }
    });
    if (fresh.length) socket.send(JSON.stringify({action: "watch", tickers: fresh}));
  }
  document.addEventListener("htmx:wsOpen", function (e) { socket = e.detail.socketWrapper; watched = {}; watchPositions(); });
  document.addEventListener("htmx:wsClose", function () { socket = null; });
  document.addEventListener("htmx:afterSettle", watchPositions);
  document.addEventListener("htmx:oobAfterSwap", watchPositions);
})();
