/* The event page's sums of YES asks and bids against $1.00, kept current as the rows' quotes arrive (pushed over
   the socket or polled: the same quote cells). Amounts in ten-thousandths of a dollar (integers: no float
   rounding); the server rendered the first figures with the same rules. */
(function () {
  "use strict";
  function units(text) { return text ? Math.round(parseFloat(text) * 10000) : null; }
  function money(u) { return "$" + (u / 10000).toFixed(2); }
  function cents(u) { var c = u / 100; return (Math.round(c) === c ? String(c) : c.toFixed(1)) + "¢"; }

  function recompute() {
    var box = document.getElementById("event-sums");
    if (!box) return;
    var asks = 0, bids = 0, allAsks = true, allBids = true, n = 0;
    document.querySelectorAll("#event-markets .quote-cells").forEach(function (cells) {
      n += 1;
      var a = units(cells.dataset.ask), b = units(cells.dataset.bid);
      if (a === null) allAsks = false; else asks += a;
      if (b === null) allBids = false; else bids += b;
    });
    if (!n) return;
    var buy = box.querySelector('[data-edge="buy"]'), sell = box.querySelector('[data-edge="sell"]');
    box.querySelector('[data-sum="asks"]').textContent = allAsks ? money(asks) : "—";
    box.querySelector('[data-sum="bids"]').textContent = allBids ? money(bids) : "—";
    var buyEdge = allAsks ? 10000 - asks : null, sellEdge = allBids ? bids - 10000 : null;
    buy.textContent = buyEdge === null ? "not every outcome has an ask" : buyEdge > 0 ? "riskless " + cents(buyEdge) + " per set before fees" : "no edge: pays $1.00";
    sell.textContent = sellEdge === null ? "not every outcome has a bid" : sellEdge > 0 ? "riskless " + cents(sellEdge) + " per set before fees" : "no edge: owes $1.00";
    buy.classList.toggle("on", buyEdge !== null && buyEdge > 0);
    sell.classList.toggle("on", sellEdge !== null && sellEdge > 0);
    box.classList.toggle("riskless", (buyEdge !== null && buyEdge > 0) || (sellEdge !== null && sellEdge > 0));
  }
  ["htmx:afterSettle", "htmx:oobAfterSwap"].forEach(function (name) { document.addEventListener(name, recompute); });
})();
/* The event page's chart: one line per outcome (its YES price in cents), from the exchange's event candlesticks
   (TradingView Lightweight Charts, vendored). The legend under it takes each line's colour. */
(function () {
  "use strict";
  var PALETTE = ["#2962ff", "#e91e63", "#00897b", "#f57c00", "#8e24aa", "#43a047", "#6d4c41", "#00acc1", "#c0ca33", "#5c6bc0"];
  var chart = null;
  function draw() {
    var box = document.querySelector("#event-chart .event-lines");
    var data = document.getElementById("event-lines-data");
    if (!box || !data || box.dataset.series || !window.LightweightCharts) return;
    var LW = window.LightweightCharts;
    if (chart) { chart.remove(); chart = null; }
    chart = LW.createChart(box, {
      autoSize: true,
      layout: { fontSize: 11, attributionLogo: false },
      timeScale: { timeVisible: true, secondsVisible: false },
      localization: { priceFormatter: function (p) { return (Math.round(p * 10) / 10) + "¢"; } },
    });
    var lines = JSON.parse(data.textContent || "[]");
    lines.forEach(function (line, i) {
      var color = PALETTE[i % PALETTE.length];
      var series = chart.addSeries(LW.LineSeries, { color: color, lineWidth: 2, title: "", priceLineVisible: false });
      series.setData(line.points.map(function (p) { return { time: p.time, value: parseFloat(p.value) }; }));
      var item = document.querySelector('#event-chart .event-legend li[data-ticker="' + line.ticker + '"] .swatch');
      if (item) item.style.background = color;
    });
    chart.timeScale().fitContent();
    applyTheme();
    box.dataset.series = String(lines.length);
  }
  function applyTheme() { if (chart) chart.applyOptions(window.kwTheme.chartOptions()); }
  ["htmx:afterSettle", "DOMContentLoaded"].forEach(function (name) { document.addEventListener(name, draw); });
  window.addEventListener("kw:theme", applyTheme);
})();
