/* The market page's price chart: YES-price candles with volume (TradingView Lightweight Charts, vendored), kept
   current from the trades the page already receives (the tape, pushed over the socket or polled), with the
   trader's own fills marked. The server renders an SVG line under it for pages without JavaScript; it is hidden
   once the candles draw. State for tests and screen readers is on the container's data attributes. */
(function () {
  "use strict";
  var state = null; // {box, el, chart, candles, volume, markers, bars, seen, period, ticker}

  var css = window.kwTheme.color;

  function cents(text) { return parseFloat(text); }

  function init() {
    var box = document.getElementById("market-chart");
    var el = box && box.querySelector(".candles");
    var data = box && box.querySelector("#chart-candles");
    if (!el || !data || !window.LightweightCharts) return;
    if (state && state.el === el) return; // already drawn into this element
    if (state) { state.chart.remove(); state = null; }
    var LW = window.LightweightCharts;
    var rows = JSON.parse(data.textContent || "[]");
    var period = parseInt(el.dataset.period || "1", 10) * 60;
    var chart = LW.createChart(el, {
      autoSize: true,
      layout: { fontSize: 11, attributionLogo: false },
      timeScale: { timeVisible: true, secondsVisible: false },
      crosshair: { mode: LW.CrosshairMode.Normal },
      localization: { priceFormatter: function (p) { return (Math.round(p * 10) / 10) + "¢"; } },
    });
    var candles = chart.addSeries(LW.CandlestickSeries, {});
    var volume = chart.addSeries(LW.HistogramSeries, {
      priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false,
    });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    var bars = rows.map(function (r) {
      return { time: r.time, open: cents(r.open), high: cents(r.high), low: cents(r.low), close: cents(r.close), volume: parseFloat(r.volume) };
    });
    candles.setData(bars.map(function (b) { return { time: b.time, open: b.open, high: b.high, low: b.low, close: b.close }; }));
    volume.setData(bars.map(function (b) { return { time: b.time, value: b.volume }; }));
    chart.timeScale().fitContent();
    state = {
      box: box, el: el, chart: chart, candles: candles, volume: volume, bars: bars, period: period,
      markers: LW.createSeriesMarkers(candles, []), seen: {}, ticker: el.dataset.ticker,
    };
    applyTheme();
    // The trades on the tape now are in the candles already (the exchange's history includes them).
    tapeRows().forEach(function (row) { state.seen[tradeKey(row)] = true; });
    el.classList.add("drawn"); // on the container, not #market-chart: htmx's settle resets that one's classes
    report();
    markFills();
  }

  /* Colours from the page's theme variables (light or dark, the system's or the switch's). */
  function applyTheme() {
    if (!state) return;
    var up = css("--yes", "#0a7d38"), down = css("--no", "#b3261e"), muted = css("--muted", "#666");
    state.chart.applyOptions(window.kwTheme.chartOptions());
    state.candles.applyOptions({
      upColor: up, downColor: down, borderUpColor: up, borderDownColor: down, wickUpColor: up, wickDownColor: down,
    });
    state.volume.applyOptions({ color: muted });
    markFills();
  }

  function tapeRows() {
    return Array.prototype.slice.call(document.querySelectorAll(".trades .tape tr[data-at]"));
  }

  function tradeKey(row) {
    return row.dataset.trade || [row.dataset.at, row.dataset.cents, row.dataset.count].join("|");
  }

  /* New trades on the tape go into the live candle (or open the next one). */
  function addTrades() {
    if (!state) return;
    var fresh = tapeRows().filter(function (row) { return row.dataset.at && !state.seen[tradeKey(row)]; });
    fresh.reverse(); // the tape is newest first
    fresh.forEach(function (row) {
      state.seen[tradeKey(row)] = true;
      var at = parseFloat(row.dataset.at), price = cents(row.dataset.cents), count = parseFloat(row.dataset.count);
      if (isNaN(at) || isNaN(price)) return;
      var time = Math.floor(at / state.period) * state.period;
      var last = state.bars[state.bars.length - 1];
      if (last && time < last.time) return; // older than the live candle: already in the history
      if (last && time === last.time) {
        last.high = Math.max(last.high, price);
        last.low = Math.min(last.low, price);
        last.close = price;
        last.volume += isNaN(count) ? 0 : count;
      } else {
        last = { time: time, open: price, high: price, low: price, close: price, volume: isNaN(count) ? 0 : count };
        state.bars.push(last);
      }
      state.candles.update({ time: last.time, open: last.open, high: last.high, low: last.low, close: last.close });
      state.volume.update({ time: last.time, value: last.volume });
    });
    if (fresh.length) report();
  }

  /* The trader's fills in this market, as arrows on the candle they happened in. */
  function markFills() {
    if (!state) return;
    var first = state.bars.length ? state.bars[0].time : Infinity;
    var markers = [];
    document.querySelectorAll('#my-fills-body tr.fill[data-ticker="' + state.ticker + '"]').forEach(function (row) {
      var at = parseFloat(row.dataset.at);
      var time = Math.floor(at / state.period) * state.period;
      if (isNaN(at) || time < first) return;
      var buy = row.dataset.bookSide === "bid"; // bought YES; "ask" bought NO (sold YES)
      markers.push({
        time: time,
        position: buy ? "belowBar" : "aboveBar",
        shape: buy ? "arrowUp" : "arrowDown",
        color: buy ? css("--yes", "#0a7d38") : css("--no", "#b3261e"),
        text: (buy ? "B " : "S ") + row.dataset.count + " @ " + row.dataset.cents + "¢",
      });
    });
    markers.sort(function (a, b) { return a.time - b.time; });
    state.markers.setMarkers(markers);
    state.el.dataset.markers = String(markers.length);
  }

  function report() {
    var last = state.bars[state.bars.length - 1];
    state.el.dataset.candles = String(state.bars.length);
    state.el.dataset.lastTime = last ? String(last.time) : "";
    state.el.dataset.lastClose = last ? String(last.close) : "";
    state.el.dataset.lastVolume = last ? String(last.volume) : "";
  }

  var queued = false;
  function sync() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(function () {
      queued = false;
      init();
      addTrades();
      markFills();
    });
  }
  ["htmx:afterSettle", "htmx:oobAfterSwap", "htmx:afterSwap"].forEach(function (name) {
    document.addEventListener(name, sync);
  });
  document.addEventListener("DOMContentLoaded", sync);
  // Colours follow the theme (the system setting, or the switch).
  window.addEventListener("kw:theme", applyTheme);
})();
/* The depth chart: cumulative YES bids (green) and asks (red) by price, on the chart library's price axis
   (createOptionsChart). Its container sits outside the pushed book, so each push only sets the data; the book's
   SVG depth stays for pages without JavaScript and is hidden once this draws. */
(function () {
  "use strict";
  var chart = null, bids = null, asks = null;
  var css = window.kwTheme.color;
  function alpha(color, a) { return "color-mix(in srgb, " + color + " " + Math.round(a * 100) + "%, transparent)"; }
  function theme() {
    if (!chart) return;
    var up = css("--yes", "#0a7d38"), down = css("--no", "#b3261e");
    var options = window.kwTheme.chartOptions();
    chart.applyOptions({ layout: options.layout, grid: options.grid });
    bids.applyOptions({ lineColor: up, topColor: alpha(up, 0.4), bottomColor: alpha(up, 0.05) });
    asks.applyOptions({ lineColor: down, topColor: alpha(down, 0.4), bottomColor: alpha(down, 0.05) });
  }
  function points(rows) {
    return rows.map(function (r) { return { time: parseFloat(r[0]), value: parseFloat(r[1]) }; });
  }
  function update() {
    var box = document.getElementById("depth-live"), data = document.getElementById("depth-data");
    if (!box || !data || !window.LightweightCharts || !window.LightweightCharts.createOptionsChart) return;
    var depth = JSON.parse(data.textContent || "{}");
    if (!chart) {
      var LW = window.LightweightCharts;
      chart = LW.createOptionsChart(box, {
        autoSize: true,
        layout: { fontSize: 10, attributionLogo: false },
        localization: { priceFormatter: function (v) { return String(Math.round(v)); } },
        handleScroll: false, handleScale: false,
      });
      bids = chart.addSeries(LW.AreaSeries, { lineWidth: 1, lineType: 1, priceLineVisible: false, lastValueVisible: false });
      asks = chart.addSeries(LW.AreaSeries, { lineWidth: 1, lineType: 1, priceLineVisible: false, lastValueVisible: false });
      theme();
      box.closest(".desk-book").classList.add("depth-drawn");
    }
    bids.setData(points(depth.bids || []));
    asks.setData(points(depth.asks || []));
    chart.timeScale().fitContent();
    box.dataset.levels = String((depth.bids || []).length + (depth.asks || []).length);
  }
  var queued = false;
  function soon() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(function () { queued = false; update(); });
  }
  ["htmx:afterSettle", "htmx:oobAfterSwap", "DOMContentLoaded"].forEach(function (n) { document.addEventListener(n, soon); });
  window.addEventListener("kw:theme", theme);
})();
