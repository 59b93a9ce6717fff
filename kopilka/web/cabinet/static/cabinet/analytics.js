/* The cabinet's analytics: draws the charts whose data htmx brings (a <canvas data-chart=JSON>:
   an attribute, since htmx drops <script> elements from fragments), and sends the filter when a
   period preset is picked. No inline script, no eval: Chart.js reads plain data. */
(function () {
  "use strict";

  function colour(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    return [colour("--color-primary", "#2f6f4e"), colour("--color-accent", "#d08a2e"),
      colour("--color-info-text", "#2a5d8f"), colour("--color-danger-text", "#a23b3b"),
      "#7a5ea8", "#4a8f8c", "#8c6d3f", "#5c6b7a"];
  }

  function formatter(data, unit) {
    var locale = data.locale || undefined;
    if (unit === "money" || unit === "sms") {
      var money = new Intl.NumberFormat(locale, {style: "currency", currency: data.currency,
        maximumFractionDigits: 0});
      var scale = Math.pow(10, data.precision);
      return function (value) { return money.format(value / scale); };
    }
    if (unit === "points") {
      var points = new Intl.NumberFormat(locale, {maximumFractionDigits: data.points_precision});
      var divisor = Math.pow(10, data.points_precision);
      return function (value) { return points.format(value / divisor); };
    }
    var count = new Intl.NumberFormat(locale, {maximumFractionDigits: 0});
    return function (value) { return count.format(value); };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") return;
    var data = JSON.parse(canvas.dataset.chart);
    var colours = palette();
    var main = formatter(data, data.unit);
    var count = formatter(data, "count");
    var round = data.type === "doughnut";
    var datasets = data.datasets.map(function (set, index) {
      var own = set.unit ? formatter(data, set.unit) : main;
      var shade = colours[index % colours.length];
      return {
        label: set.label, data: set.data, type: set.type || data.type,
        yAxisID: set.axis === "count" ? "count" : "y",
        backgroundColor: round ? set.data.map(function (_v, i) { return colours[i % colours.length]; }) : shade,
        borderColor: round ? "#fff" : shade, borderWidth: 2,
        tension: 0, pointRadius: data.labels.length > 40 ? 0 : 3, format: own
      };
    });
    var scales = {};
    if (!round) {
      scales.y = {beginAtZero: true, ticks: {callback: function (value) { return main(value); }}};
      if (data.unit === "count") scales.y.ticks.precision = 0;
      if (data.datasets.some(function (set) { return set.axis === "count"; })) {
        scales.count = {beginAtZero: true, position: "right", grid: {drawOnChartArea: false},
          ticks: {precision: 0, callback: function (value) { return count(value); }}};
      }
    }
    canvas.dataset.drawn = "1";
    var labels = data.labels;
    if (data.dates) {  // ISO days, shown the language's short way ("7 мар.")
      var day = new Intl.DateTimeFormat(data.locale, {day: "numeric", month: "short", timeZone: "UTC"});
      labels = labels.map(function (text) { return day.format(new Date(text + "T00:00:00Z")); });
    }
    new window.Chart(canvas, {
      type: data.type,
      data: {labels: labels, datasets: datasets},
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, locale: data.locale,
        scales: scales,
        plugins: {
          legend: {display: datasets.length > 1 || round, position: "bottom"},
          tooltip: {callbacks: {label: function (item) {
            return item.dataset.label + ": " + item.dataset.format(item.raw);
          }}}
        }
      }
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });

  // A preset other than "other dates" shows its figures at once.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-analytics-filter] input[name=period]")) return;
    var form = input.form;
    if (input.value === "custom") {
      var since = form.querySelector("input[name=since]");
      if (since) since.focus();
      return;
    }
    form.requestSubmit();
  });
})();
