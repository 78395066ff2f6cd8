/* The dashboard's trend charts: uPlot (vendored in static/vendor/uplot) over /charts/data.
   A time window, a flow, and a refresh every 30 s while "auto-refresh" is ticked. */
(function () {
  "use strict";
  const root = document.querySelector("[data-charts]");
  if (!root || typeof uPlot === "undefined") return;
  const state = { window: root.dataset.window || "1h", flow: root.dataset.flow || "" };
  const pct = (u, v) => (v == null ? "–" : (v * 100).toFixed(1) + "%");
  const ms = (u, v) => (v == null ? "–" : v >= 1000 ? (v / 1000).toFixed(1) + " s" : Math.round(v) + " ms");
  const n = (u, v) => (v == null ? "–" : String(v));
  const secs = (u, v) => (v == null ? "–" : Math.round(v) + " s");
  const SPECS = [
    { id: "throughput", series: [
      { label: "finished", key: "throughput", stroke: "#2456c8", fill: "rgba(36,86,200,.08)", value: n, counts: true },
      { label: "dead", key: "dead", stroke: "#c0392b", value: n, counts: true } ] },
    { id: "errors", series: [
      { label: "dead share", key: "error_rate", stroke: "#c0392b", value: pct } ], range: [0, 1],
      axis: (u, vals) => vals.map((v) => (v * 100).toFixed(0) + "%") },
    { id: "latency", series: [
      { label: "p50", key: "p50_ms", stroke: "#1e8a4c", value: ms },
      { label: "p95", key: "p95_ms", stroke: "#b7791f", value: ms } ],
      axis: (u, vals) => vals.map((v) => (v >= 1000 ? (v / 1000).toFixed(1) + " s" : v + " ms")) },
    { id: "queue", series: [
      { label: "waiting", key: "depth", stroke: "#2456c8", value: n },
      { label: "oldest", key: "oldest_seconds", stroke: "#8a5a00", value: secs, scale: "s" } ] },
  ];
  const charts = {};

  function options(spec, el) {
    const axes = [{}, { size: 52, values: spec.axis || undefined }];
    const scales = { x: { time: true }, y: spec.range ? { range: spec.range } : { range: (u, lo, hi) => [0, Math.max(1, hi || 0)] } };
    const series = [{}].concat(spec.series.map((s) => ({ label: s.label, stroke: s.stroke, fill: s.fill, width: 1.5,
      value: s.value, scale: s.scale || "y", spanGaps: !s.counts,
      points: s.counts ? {} : { show: true, size: 5 } })));  // a lone minute of figures still shows
    if (spec.series.some((s) => s.scale === "s")) {
      scales.s = {};
      axes.push({ scale: "s", side: 1, size: 48, grid: { show: false }, values: (u, vals) => vals.map((v) => v + " s") });
    }
    return { width: Math.max(200, el.clientWidth), height: 170, series, axes, scales, legend: { live: true },
      cursor: { sync: { key: "tillbridge-trends" } } };
  }

  function draw(data) {
    SPECS.forEach((spec) => {
      const el = root.querySelector(`[data-chart="${spec.id}"]`);
      const columns = [data.t].concat(spec.series.map((s) => data[s.key]));
      if (charts[spec.id]) charts[spec.id].setData(columns);
      else charts[spec.id] = new uPlot(options(spec, el), columns, el);
    });
    const total = data.throughput.reduce((a, b) => a + b, 0);
    const dead = data.dead.reduce((a, b) => a + b, 0);
    root.querySelector("[data-summary]").textContent =
      `${total} finished, ${dead} dead in this window (per ${data.resolution}); updated ${new Date().toLocaleTimeString()}`;
  }

  async function load() {
    const params = new URLSearchParams({ window: state.window, flow: state.flow });
    try {
      const response = await fetch(`${root.dataset.url}?${params}`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      draw(await response.json());
    } catch (err) {
      root.querySelector("[data-summary]").textContent = `Could not load the figures (${err.message}); retrying.`;
    }
  }

  root.querySelectorAll("[data-window]").forEach((button) => button.addEventListener("click", () => {
    state.window = button.dataset.window;
    root.querySelectorAll("[data-window]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    load();
  }));
  const flowSelect = root.querySelector("[data-flow-select]");
  if (flowSelect) flowSelect.addEventListener("change", () => { state.flow = flowSelect.value; load(); });
  const auto = root.querySelector("[data-auto]");
  setInterval(() => { if (!auto || auto.checked) load(); }, 30000);
  new ResizeObserver(() => SPECS.forEach((spec) => {
    const el = root.querySelector(`[data-chart="${spec.id}"]`);
    if (charts[spec.id]) charts[spec.id].setSize({ width: Math.max(200, el.clientWidth), height: 170 });
  })).observe(root);
  load();
})();
