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
// The equity chart: cash + portfolio value over time (TradingView Lightweight Charts, vendored); the SVG under it
// stays for pages without JavaScript and is hidden once this draws. Colours follow the theme.
(function () {
  var chart = null;
  var css = window.kwTheme.color;
  function theme() { if (chart) chart.applyOptions(window.kwTheme.chartOptions()); }
  function draw() {
    var box = document.querySelector(".pf-equity .equity-lines"), data = document.getElementById("equity-data");
    if (!box || !data || box.classList.contains("drawn") || !window.LightweightCharts) return;
    var LW = window.LightweightCharts;
    chart = LW.createChart(box, {
      autoSize: true,
      layout: { fontSize: 11, attributionLogo: false },
      timeScale: { timeVisible: true, secondsVisible: false },
      localization: { priceFormatter: function (p) { return "$" + p.toFixed(2); } },
    });
    var series = chart.addSeries(LW.AreaSeries, {
      lineColor: css("--yes", "#0a7d38"), topColor: "rgba(10, 125, 56, .25)", bottomColor: "rgba(10, 125, 56, 0)", lineWidth: 2,
    });
    var points = JSON.parse(data.textContent || "[]").map(function (p) { return { time: p.time, value: parseFloat(p.value) }; });
    series.setData(points);
    chart.timeScale().fitContent();
    theme();
    box.classList.add("drawn");
    box.dataset.points = String(points.length);
  }
  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("kw:theme", theme);
})();
