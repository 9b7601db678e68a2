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
  if (points.resolution) box.dataset.resolution = points.resolution;
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

// Mean value by day and hour of day (local time): a row per day, a column per hour, darker where
// higher; the last row is the mean of each hour over the days.
export function hourHeatmap(points, days = 7) {
  const byDay = new Map();
  const sum = new Array(24).fill(0); const n = new Array(24).fill(0);
  points.ts.forEach((t, i) => {
    const v = points.values[i]; if (v === null || Number.isNaN(v)) return;
    const d = new Date(t * 1000); const hr = d.getHours(); const day = d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    if (!byDay.has(day)) byDay.set(day, new Array(24).fill(null));
    byDay.get(day)[hr] = v; sum[hr] += v; n[hr] += 1;
  });
  const rows = [...byDay.entries()].slice(-days);
  rows.push(["mean", sum.map((v, i) => (n[i] ? v / n[i] : null))]);
  const known = rows.flatMap(([, r]) => r).filter((v) => v !== null);
  const lo = Math.min(...known); const hi = Math.max(...known);
  const cell = (v, label) => {
    const level = v === null || hi === lo ? 0 : Math.min(4, Math.floor(((v - lo) / (hi - lo)) * 4.999));
    return h("span", { class: `o${level}${v === null ? " none" : ""}`, title: `${label} ${v === null ? "no data" : v.toPrecision(4)}` });
  };
  return h("div", { class: "heat days", dataset: { rows: String(rows.length) }, title: "mean by day and hour of day (00–23, local time)" },
    h("span", { class: "lab" }, ""), [...Array(24).keys()].map((hr) => h("span", { class: "lab hour" }, hr % 6 ? "" : String(hr).padStart(2, "0"))),
    rows.map(([day, r]) => [h("span", { class: "lab" }, day), r.map((v, hr) => cell(v, `${day} ${String(hr).padStart(2, "0")}:00`))]));
}

// Latency distribution over time, from GET /api/v1/services/{name}/latency: a canvas, a column per
// step, a row per latency bin (log scale, fastest at the bottom), darker where more requests fell.
export function latencyMap(body) {
  const box = h("div", { class: "chart latency-map", dataset: { histogram: body.histogram, steps: String(body.ts.length), bins: String(body.edges.length - 1) } },
    h("h3", {}, `${body.histogram}: share of requests by latency`));
  if (!body.ts.length) { box.append(h("p", { class: "muted" }, "no quantiles stored in this range")); return box; }
  const canvas = h("canvas", { height: "180", "aria-label": `latency distribution of ${body.histogram}` });
  const fmt = (v) => (v >= 1 ? `${v.toPrecision(3)}` : v.toPrecision(2));
  box.append(canvas,
    h("p", { class: "muted" }, `${new Date(body.start * 1000).toLocaleString()} → ${new Date(body.end * 1000).toLocaleString()}; `,
      `latency from ${fmt(body.edges[0])} at the bottom to ${fmt(body.edges[body.edges.length - 1])} at the top (log scale), `,
      `read off its ${body.levels.join(", ")} quantiles; the red strip is what lies above the highest (${((body.above.find((a) => a !== null) || 0) * 100).toFixed(1)} %)`));
  requestAnimationFrame(() => {
    const w = Math.max(240, box.clientWidth - 4); canvas.width = w;
    const ctx = canvas.getContext("2d"); const H = canvas.height; const bins = body.edges.length - 1;
    // Each column where its step lies in the range asked for: steps with no data stay blank.
    const span = Math.max(body.step, body.end - body.start); const cw = Math.max(1, (body.step / span) * w);
    const xOf = (t) => ((t - body.start) / span) * w; const top = 10; const rh = (H - top) / bins;
    const accent = css("--accent"); const warn = css("--unhealthy");
    let max = 0;
    for (const row of body.density) for (const v of row) if (v !== null && v > max) max = v;
    body.density.forEach((row, j) => {
      row.forEach((v, b) => {
        if (v === null || v <= 0) return;
        ctx.globalAlpha = Math.min(1, 0.06 + 0.94 * Math.sqrt(v / max)); ctx.fillStyle = accent;
        ctx.fillRect(xOf(body.ts[j]), H - (b + 1) * rh, Math.ceil(cw), Math.ceil(rh));
      });
      const above = body.above[j];
      if (above) { ctx.globalAlpha = Math.min(1, 0.1 + 4 * above); ctx.fillStyle = warn; ctx.fillRect(xOf(body.ts[j]), 0, Math.ceil(cw), top - 2); }
    });
    ctx.globalAlpha = 1;
    box.dataset.drawn = "1";
  });
  return box;
}

// An SLO's error budget over its window: what is left (0..100 %, below 0 overspent) and the burn rate.
export function budgetChart(slo, now) {
  const box = h("div", { class: "chart budget", dataset: { slo: slo.name } }, h("h3", {}, `${slo.name}: budget left and burn rate`));
  const ts = slo.ts; if (!ts.length) { box.append(h("p", { class: "muted" }, "no events in the window yet")); return box; }
  const left = slo.remaining_over_time.map((v) => (v === null ? null : 100 * v));
  const series = [{}, { label: "budget left %", stroke: css("--healthy"), width: 2, scale: "%" },
    { label: "burn rate ×", stroke: css("--unhealthy"), width: 1, scale: "burn", paths: uPlot.paths.stepped({ align: 1 }) }];
  const [x, y] = axes();
  const opts = { series, height: 180, scales: { x: { time: true, range: () => [now - slo.window_s, now] }, "%": { range: (u, lo) => [Math.min(0, lo ?? 0), 100] }, burn: { range: (u, lo, hi) => [0, Math.max(1, hi ?? 1)] } },
    axes: [x, { ...y, scale: "%" }, { ...y, scale: "burn", side: 1, grid: { show: false } }] };
  requestAnimationFrame(() => sized(box, opts, [ts, left, slo.burn]));
  return box;
}
