/* The theme switch: "auto" follows the system's light/dark setting; "light" and "dark" are the trader's pick,
   kept in this browser (localStorage) and applied before the first paint (this script is not deferred). */
(function () {
  "use strict";
  var KEY = "kw-theme", ORDER = ["auto", "dark", "light"];
  function stored() {
    try { var v = localStorage.getItem(KEY); return ORDER.indexOf(v) > 0 ? v : "auto"; } catch (e) { return "auto"; }
  }
  function apply(theme) {
    var root = document.documentElement;
    if (theme === "auto") delete root.dataset.theme; else root.dataset.theme = theme;
    var button = document.getElementById("theme-switch");
    if (button) {
      button.textContent = "Theme: " + theme;
      button.setAttribute("aria-label", "Theme: " + theme + " (click for " + ORDER[(ORDER.indexOf(theme) + 1) % ORDER.length] + ")");
    }
    window.dispatchEvent(new Event("kw:theme"));
  }
  apply(stored());
  // The system's setting changing is a theme change too (the charts redraw their colours on "kw:theme").
  if (window.matchMedia) {
    var scheme = window.matchMedia("(prefers-color-scheme: dark)");
    if (scheme.addEventListener) scheme.addEventListener("change", function () { window.dispatchEvent(new Event("kw:theme")); });
  }
  // What the chart scripts read: the theme's colours, and the chart options that carry them.
  function color(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }
  window.kwTheme = {
    color: color,
    chartOptions: function () {
      var line = color("--line", "#ddd");
      return {
        layout: { background: { type: "solid", color: color("--bg", "#fafafa") }, textColor: color("--fg", "#1b1b1b") },
        grid: { vertLines: { color: line }, horzLines: { color: line } },
        rightPriceScale: { borderColor: line },
        timeScale: { borderColor: line },
      };
    },
  };
  document.addEventListener("DOMContentLoaded", function () {
    apply(stored());
    var button = document.getElementById("theme-switch");
    if (!button) return;
    button.addEventListener("click", function () {
      var next = ORDER[(ORDER.indexOf(stored()) + 1) % ORDER.length];
      try { if (next === "auto") localStorage.removeItem(KEY); else localStorage.setItem(KEY, next); } catch (e) { /* private mode */ }
      apply(next);
    });
  });
})();
