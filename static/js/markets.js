/* The markets list re-sorts itself as live updates change what it is sorted by (volume, spread): rows move at
   most once a second, within the page the server sent (the next page stays the server's). */
(function () {
  "use strict";
  var KEYS = {
    volume: function (cells) { return -(parseFloat(cells.dataset.volume) || 0); },
    spread: function (cells) {
      var bid = parseFloat(cells.dataset.bid), ask = parseFloat(cells.dataset.ask);
      return isNaN(bid) || isNaN(ask) ? Infinity : ask - bid;
    },
  };
  var timer = null;
  function resort() {
    timer = null;
    var table = document.getElementById("market-table");
    var key = table && KEYS[table.dataset.sort];
    if (!key) return;
    var rows = Array.prototype.filter.call(table.children, function (el) {
      return el.classList.contains("mrow") && !el.classList.contains("head") && el.querySelector(".quote-cells");
    });
    var keyed = rows.map(function (row, i) {
      var ticker = row.querySelector("small.ticker");
      return { row: row, k: key(row.querySelector(".quote-cells")), t: ticker ? ticker.textContent : "", i: i };
    });
    keyed.sort(function (a, b) { return a.k - b.k || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0); });
    if (keyed.every(function (e, i) { return e.i === i; })) return;
    var after = rows.length ? rows[rows.length - 1].nextSibling : null;
    keyed.forEach(function (e) { table.insertBefore(e.row, after); });
    table.dataset.resorted = String((parseInt(table.dataset.resorted || "0", 10) || 0) + 1);
  }
  document.addEventListener("htmx:oobAfterSwap", function () {
    if (!timer) timer = setTimeout(resort, 1000);
  });
})();
