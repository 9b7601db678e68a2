// Charts drawn by uPlot (vendored in /ui/vendor: MIT, small, canvas-based and fast with long series).
import uPlot from "../vendor/uPlot.esm.js";
import { h } from "./dom.js";

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";

function sized(box, opts, data) {
  const width = () => Math.max(240, box.clientWidth - 4);
  const plot = new uPlot({ ...opts, width: width(), height: opts.height || 200 }, data, box);
  const watch = new ResizeObserver(() => plot.setSize({ width: width(), height: opts.height || 200 }));
  watch.observe(box);
  plot.stopWatching = () => watch.disconnect();
  return plot;
}

function axes() {
  const stroke = css("--muted"); const grid = { stroke: css("--line"), width: 1 };
  return [{ stroke, grid, ticks: grid }, { stroke, grid, ticks: grid, size: 56 }];
}

// A metric: its values, a mark on each anomaly, and the forecast's band (lo..hi around the mean).
export function metricChart(title, points, marks = [], forecast = null) {
  const box = h("div", { class: "chart", dataset: { series: title } }, h("h3", {}, title));
  const tables = [[points.ts, points.values]];
  const series = [{}, { label: "value", stroke: css("--accent"), width: 1.5 }];
  const byTs = new Map(points.ts.map((t, i) => [t, points.values[i]]));
  const markTs = [...new Set(marks.map((m) => nearest(points.ts, m)).filter((t) => t !== null))].sort((a, b) => a - b);
  tables.push([markTs, markTs.map((t) => byTs.get(t))]);
  series.push({ label: "anomaly", stroke: css("--unhealthy"), paths: () => null, points: { show: true, size: 8, fill: css("--unhealthy") } });
  const bands = [];
  if (forecast && forecast.ts && forecast.ts.length) {
    tables.push([forecast.ts, forecast.mean, forecast.lo, forecast.hi]);
    const n = series.length;
    series.push({ label: "forecast", stroke: css("--muted"), dash: [6, 4], width: 1 },
      { label: "lo", stroke: css("--line"), width: 1 }, { label: "hi", stroke: css("--line"), width: 1 });
    bands.push({ series: [n + 2, n + 1], fill: "rgba(120,140,200,0.18)" });
  }
  const data = uPlot.join(tables);
  box.dataset.points = String(points.ts.length);
  box.dataset.anomalies = String(markTs.length);
  // The x range is the window asked for (and the forecast's), not just where points happen to be.
  const t0 = points.start ?? points.ts[0]; const t1 = Math.max(points.end ?? 0, ...(forecast && forecast.ts ? forecast.ts : []), ...points.ts.slice(-1));
  const x = t0 !== undefined && t1 > t0 ? { time: true, range: () => [t0, t1] } : { time: true };
  requestAnimationFrame(() => sized(box, { series, bands, axes: axes(), legend: { live: false }, scales: { x } }, data));
  return box;
}

function nearest(ts, t) {
  if (!ts.length) return null;
  let lo = 0; let hi = ts.length - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (ts[mid] < t) lo = mid + 1; else hi = mid; }
  if (lo > 0 && Math.abs(ts[lo - 1] - t) < Math.abs(ts[lo] - t)) lo -= 1;
  return ts[lo];
}

// Replicas over time from scaling decisions: a step line of what vigil set, a dot per decision.
export function replicaChart(decisions) {
  const rows = decisions.filter((d) => d.result && typeof d.result.replicas === "number").sort((a, b) => a.ts - b.ts);
  const box = h("div", { class: "chart replicas", dataset: { decisions: String(rows.length) } }, h("h3", {}, "Replicas"));
  if (!rows.length) { box.append(h("p", { class: "muted" }, "no scaling decisions yet")); return box; }
  const ts = rows.map((d) => d.ts);
  const set = rows.map((d) => d.result.replicas);
  const desired = rows.map((d) => (typeof d.result.desired === "number" ? d.result.desired : null));
  const series = [{}, { label: "replicas", stroke: css("--accent"), width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: true, size: 5 } },
    { label: "desired", stroke: css("--muted"), dash: [4, 4], paths: uPlot.paths.stepped({ align: 1 }) }];
  requestAnimationFrame(() => sized(box, { series, axes: axes(), height: 180, scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(2, max + 1)] } } }, [ts, set, desired]));
  return box;
}

// Mean value by hour of day (local time): a row of 24 cells, darker where higher.
export function hourHeatmap(points) {
  const sum = new Array(24).fill(0); const n = new Array(24).fill(0);
  points.ts.forEach((t, i) => { const v = points.values[i]; if (v === null || Number.isNaN(v)) return; const hr = new Date(t * 1000).getHours(); sum[hr] += v; n[hr] += 1; });
  const mean = sum.map((v, i) => (n[i] ? v / n[i] : null));
  const known = mean.filter((v) => v !== null);
  const lo = Math.min(...known); const hi = Math.max(...known);
  return h("div", { class: "heat", title: "mean by hour of day (00–23)" }, mean.map((v, hr) => {
    const level = v === null || hi === lo ? 0 : Math.min(4, Math.floor(((v - lo) / (hi - lo)) * 4.999));
    return h("span", { class: `o${level}`, title: `${String(hr).padStart(2, "0")}:00 ${v === null ? "no data" : v.toPrecision(4)}` });
  }));
}
