/* global uPlot, window, document */
// The agreement page's chart, drawn with uPlot (served by the dashboard from its own node_modules). The series come
// from the API ready to draw; this file only styles them and marks "now" and the termination.

const STYLE = {
  budget: { stroke: "#6b7280", width: 2, step: true },
  cap: { stroke: "#d97706", width: 2, dash: [8, 5] },
  floor: { stroke: "#2563eb", width: 2, dash: [3, 4] },
  payable: { stroke: "#16a34a", width: 1.5, dash: [1, 3] },
  accepted: { stroke: "#7c3aed", width: 2, step: true },
  paid: { stroke: "#047857", width: 3, step: true },
};

const iso = (seconds) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

const axisTime = (seconds, span) => {
  const text = iso(seconds);
  return span > 2 * 86_400 ? `${text.slice(5, 10)} ${text.slice(11, 16)}` : text.slice(11, 16);
};

/** A vertical marker at unix time `at` with a label at its top. */
function marker(u, at, label, color) {
  if (at === null || at === undefined) return;
  const x = Math.round(u.valToPos(at, "x", true));
  if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
  const { ctx } = u;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 1.5 * window.devicePixelRatio;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(x, u.bbox.top);
  ctx.lineTo(x, u.bbox.top + u.bbox.height);
  ctx.stroke();
  ctx.font = `${12 * window.devicePixelRatio}px system-ui, sans-serif`;
  ctx.fillText(label, x + 4 * window.devicePixelRatio, u.bbox.top + 30 * window.devicePixelRatio);
  ctx.restore();
}

/** `markers` is read at every draw, so an update only changes it and sets new data. */
function options(chart, width, markers) {
  return {
    width,
    height: 340,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max * 1.05 || 1] } },
    // Times in UTC like every ISO time on the page: hours and minutes, with the date when the span is days.
    axes: [
      { values: (u, splits) => splits.map((v) => axisTime(v, u.scales.x.max - u.scales.x.min)) },
      { label: chart.symbol, size: 70 },
    ],
    legend: { live: true },
    series: [
      { label: "time (UTC)", value: (_u, v) => (v === null || v === undefined ? "—" : iso(v)) },
      ...chart.series.map((s) => {
        const style = STYLE[s.key] ?? { stroke: "#111", width: 1 };
        const series = {
          label: s.label,
          stroke: style.stroke,
          width: style.width,
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => (v === null || v === undefined ? "—" : `${v} ${chart.symbol}`),
        };
        // uPlot reads a present-but-undefined option as "none": set only what applies.
        if (style.dash) series.dash = style.dash;
        if (style.step) series.paths = uPlot.paths.stepped({ align: 1 });
        return series;
      }),
    ],
    hooks: {
      draw: [
        (u) => {
          marker(u, markers.terminatedAt, "terminated", "#8a5a00");
          marker(u, markers.now, "now", "#b42318");
        },
      ],
    },
  };
}

const dataOf = (chart) => [chart.x, ...chart.series.map((s) => s.values)];
const shapeOf = (chart) => chart.series.map((s) => s.key).join(",");

/** Draws (or updates in place) the payout chart in `element`; returns the uPlot instance. */
export function drawChart(element, chart, previous) {
  const width = Math.max(320, element.clientWidth || document.body.clientWidth - 60);
  let u = previous;
  if (u && u.dripfeed.shape === shapeOf(chart)) {
    Object.assign(u.dripfeed, { now: chart.now, terminatedAt: chart.terminatedAt });
    u.setData(dataOf(chart));
  } else {
    u?.destroy();
    element.textContent = "";
    // No redraw() right after construction: uPlot commits its first layout in a microtask, and a redraw before it
    // leaves the scales unset (an empty chart).
    const markers = { shape: shapeOf(chart), now: chart.now, terminatedAt: chart.terminatedAt };
    u = new uPlot(options(chart, width, markers), dataOf(chart), element);
    u.dripfeed = markers;
  }
  element.dataset.series = chart.series.map((s) => s.key).join(" ");
  element.dataset.now = String(chart.now);
  element.dataset.terminatedAt = chart.terminatedAt === null ? "" : String(chart.terminatedAt);
  return u;
}
