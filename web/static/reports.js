// Reports page: draw each <canvas data-chart="id"> from the JSON the server put in #report-charts,
// with chart.js; again whenever htmx swaps in another period. The server decides what is drawn; this
// file only maps its small chart description onto chart.js options.
(function () {
  "use strict";
  var PALETTE = ["#2456a6", "#e07b00", "#1e7a3c", "#b3261e", "#7b4bb7", "#0f8b8d", "#8a6d3b", "#5b6472"];
  var drawn = [];

  function dataset(spec, index, chartType) {
    var colour = PALETTE[index % PALETTE.length];
    var type = spec.type || chartType;
    return {
      label: spec.label,
      data: spec.data,
      type: type,
      yAxisID: spec.axis === "y2" ? "y2" : "y",
      xAxisID: "x",
      backgroundColor: type === "line" ? colour : colour + "cc",
      borderColor: colour,
      borderWidth: type === "line" ? 2 : 0,
      pointRadius: type === "line" ? 2 : 0,
      tension: 0.2,
      order: type === "line" ? 0 : 1
    };
  }

  function config(spec) {
    var horizontal = !!spec.horizontal;
    var scales = {
      x: { stacked: !!spec.stacked, ticks: { autoSkip: true, maxRotation: 60 } },
      y: { stacked: !!spec.stacked, beginAtZero: true }
    };
    if (horizontal) {
      scales = { x: { beginAtZero: true }, y: { ticks: { autoSkip: false, font: { size: 10 } } } };
    }
    if (spec.datasets.some(function (d) { return d.axis === "y2"; })) {
      scales.y2 = { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } };
    }
    // counts (datasets marked "whole") get whole-number ticks: "1.5 orders" reads as a bug
    ["y", "y2"].forEach(function (axis) {
      var on = horizontal || !scales[axis] ? [] : spec.datasets.filter(function (d) {
        return (d.axis === "y2" ? "y2" : "y") === axis;
      });
      if (on.length && on.every(function (d) { return d.whole; })) {
        scales[axis].ticks = Object.assign({}, scales[axis].ticks, { precision: 0 });
      }
    });
    return {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d, i) { return dataset(d, i, spec.type); })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          title: { display: true, text: spec.title },
          legend: { display: spec.datasets.length > 1, position: "bottom" }
        },
        scales: scales
      }
    };
  }

  function drawAll() {
    var source = document.getElementById("report-charts");
    if (!source || typeof Chart === "undefined") { return; }
    drawn.forEach(function (chart) { chart.destroy(); });
    drawn = [];
    var specs = JSON.parse(source.textContent);
    specs.forEach(function (spec) {
      var canvas = document.querySelector('canvas[data-chart="' + spec.id + '"]');
      if (canvas) { drawn.push(new Chart(canvas, config(spec))); }
    });
    document.body.dataset.chartsDrawn = String(drawn.length);
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.target;
    if (target && (target.id === "reports" || (target.querySelector && target.querySelector("#report-charts")))) {
      drawAll();
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
