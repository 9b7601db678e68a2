// A service: health and probes (with their history), metric charts with anomaly marks and forecast
// bands over a chosen range (up to a year: long ranges read the store's hourly roll-ups), each SLO's
// error budget, replicas over time with each scaling decision's explanation, CPU and memory by hour
// of day, and the latency distribution over time from its histogram.
import { get } from "../api.js";
import { budgetChart, hourHeatmap, latencyMap, metricChart, replicaChart } from "../charts.js";
import { ago, badge, card, h, link, mount, short, table, when } from "../dom.js";
import { replicasText } from "./overview.js";

const MAX_CHARTS = 8;
const enc = encodeURIComponent;
// Each range and the step its charts ask for: a step of a minute or more reads the 1-minute roll-ups,
// of an hour or more the hourly ones (the API chooses: resolution=auto), so a year is 1,460 points.
export const RANGES = { "1h": "15s", "6h": "1m", "1d": "5m", "7d": "1h", "30d": "3h", "1y": "6h" };
const SPAN = { "1h": "1h", "6h": "6h", "1d": "1d", "7d": "7d", "30d": "30d", "1y": "365d" }; // as the API says it

export async function servicePage(root, [name, range = "1h"]) {
  if (!RANGES[range]) range = "1h";
  const step = RANGES[range];
  const since = `-${SPAN[range]}`;
  const q = `service=${enc(name)}`;
  const [svc, probes, signals, scaling, forecasts, series, incidents, slo] = await Promise.all([
    get(`/api/v1/services/${enc(name)}`), get(`/api/v1/probes?${q}&limit=50`), get(`/api/v1/signals?${q}&since=${since}&limit=500`),
    get(`/api/v1/scaling/decisions?${q}&since=-6h&limit=2000`), get(`/api/v1/forecasts?${q}`),
    get(`/api/v1/series?${q}&limit=200`),
    get(`/api/v1/incidents?${q}&status=all&limit=10`),
    get(`/api/v1/services/${enc(name)}/slo`).catch(() => null),
  ]);
  const fcBySeries = new Map(forecasts.forecasts.map((f) => [f.series, f]));
  // Charts for what matters first: forecast series, then series with signals, then the rest by name.
  const flagged = new Set(signals.signals.map((sg) => sg.series));
  const rank = (x) => (fcBySeries.has(x.series) ? 0 : flagged.has(x.series) ? 1 : /^process_|^python_/.test(x.name) ? 3 : 2);
  const chosen = [...series.series].sort((a, b) => rank(a) - rank(b) || a.series.localeCompare(b.series)).slice(0, MAX_CHARTS);
  const points = await Promise.all(chosen.map((x) => get(`/api/v1/query?series=${enc(x.series)}&start=${since}&step=${step}`).catch(() => null)));
  const charts = chosen.map((x, i) => {
    if (!points[i]) return null;
    const marks = signals.signals.filter((sg) => sg.series === x.series && sg.kind !== "forecast").map((sg) => sg.ts);
    return metricChart(x.series, points[i], marks, fcBySeries.get(x.series));
  }).filter(Boolean);
  // CPU and memory by hour of day: the service's own series, whether charted or not.
  const byName = (re) => series.series.find((x) => re.test(x.name) && !x.labels.quantile);
  const heatSources = [["CPU", byName(/cpu/i)], ["Memory", byName(/memory|rss/i)]].filter(([, x]) => x);
  const heats = await Promise.all(heatSources.map(([, x]) => get(`/api/v1/query?series=${enc(x.series)}&start=-7d&step=1h`).catch(() => null)));
  const spanS = { "1h": 3600, "6h": 21600, "1d": 86400, "7d": 604800, "30d": 2592000, "1y": 31536000 }[range];
  const latencyStep = Math.max(60, Math.ceil(spanS / 240 / 60) * 60); // about 240 columns
  const dist = series.series.some((x) => x.labels.quantile !== undefined)
    ? await get(`/api/v1/services/${enc(name)}/latency?start=${since}&step=${latencyStep}s`).catch(() => null) : null;
  const latency = probes.results.filter((p) => typeof p.latency_s === "number").reverse();

  mount(root,
    h("h1", {}, name, " ", badge(svc.health)),
    h("p", { class: "ranges", id: "ranges" }, "range: ", Object.keys(RANGES).map((r) => (r === range ? h("strong", {}, r) : link(["service", name, r], r)))),
    h("p", { class: "muted" }, svc.description || "", svc.depends_on.length ? ` · depends on ` : "",
      svc.depends_on.map((d, i) => [i ? ", " : "", link(["service", d], d)])),
    h("div", { class: "grid" },
      card("Probes", table(["probe", "health", "since", "detail"], svc.probes.map((p) => [p.probe, badge(p.health), ago(p.since), short(p.detail || "", 120)]), "no probes")),
      h("section", { class: "card", id: "scaling" }, h("h2", {}, "Scaling"), replicaChart(scaling.decisions),
        table(["when", "rule", "replicas", "why"], scaling.decisions.slice(0, 12).map((d) => [when(d.ts), d.rule, replicasText(d), explain(d)]), "no scaling policy or no decisions yet")),
      slo && slo.slos.length ? h("section", { class: "card wide", id: "slo" }, h("h2", {}, "SLO error budget"), slo.slos.map((x) => budgetCard(x, slo.now))) : null,
      h("section", { class: "card wide", id: "metrics", dataset: { range } }, h("h2", {}, `Metrics (last ${range}${series.series.length > MAX_CHARTS ? `, ${MAX_CHARTS} of ${series.series.length}` : ""})`),
        charts.length ? h("div", { class: "grid" }, charts) : h("p", { class: "muted" }, "no metrics stored for this service")),
      heatSources.length ? h("section", { class: "card wide", id: "heatmaps" }, h("h2", {}, "By hour of day (7 days, local time)"),
        h("div", { class: "grid" }, heatSources.map(([label, x], i) => (heats[i] && heats[i].count
          ? h("div", { class: "heatmap", dataset: { kind: label.toLowerCase() } }, h("h3", {}, `${label}: ${x.series}`), hourHeatmap(heats[i]))
          : null)))) : null,
      dist ? h("section", { class: "card wide", id: "latency" }, h("h2", {}, `Latency distribution (last ${range})`), latencyMap(dist)) : null,
      h("section", { class: "card wide" }, h("h2", {}, "Probe history"), latency.length ? metricChart("probe latency (s)", { ts: latency.map((p) => p.ts), values: latency.map((p) => p.latency_s) },
        probes.results.filter((p) => !p.ok).map((p) => p.ts)) : null,
      table(["when", "probe", "ok", "latency", "detail"], probes.results.slice(0, 15).map((p) => [when(p.ts), p.probe, p.ok ? "ok" : "failed",
        typeof p.latency_s === "number" ? `${(p.latency_s * 1000).toFixed(0)} ms` : "", short(p.detail || "", 80)]))),
      card("Incidents", table(["", "incident", "status", "opened"], incidents.incidents.map((i) => [badge(i.severity), link(["incident", i.id], `#${i.id} ${i.title}`), i.status, ago(i.opened_at)]), "none")),
      card(`Signals (last ${range})`, table(["when", "kind", "series", "reason"], signals.signals.slice(0, 20).map((sg) => [when(sg.ts), sg.kind, short(sg.series, 60), short(sg.reason, 120)]), "none"))));
  return true;
}

const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(v > -0.1 && v < 0.1 ? 2 : 1)} %`);

// One SLO: what is left of its budget, its error ratio over the window, each burn-rate pair, and both
// over the window.
function budgetCard(s, now) {
  const days = s.window_s / 86400;
  return h("div", { class: "budget-card", dataset: { slo: s.name, remaining: s.remaining === null ? "" : String(s.remaining) } },
    h("div", { class: "budget-figures" },
      h("span", { class: s.remaining === null ? "muted" : s.remaining > 0.25 ? "healthy" : s.remaining > 0 ? "degraded" : "unhealthy" },
        h("b", {}, pct(s.remaining)), s.remaining !== null && s.remaining < 0 ? "budget left: overspent" : "budget left"),
      h("span", {}, h("b", {}, `${s.objective_pct} %`), `objective over ${days >= 1 ? `${days} d` : `${s.window_s / 3600} h`}`),
      h("span", {}, h("b", {}, pct(s.error_ratio)), "errors in the window"),
      h("span", { class: "muted" }, s.data_from ? `data since ${when(s.data_from)}` : "no events yet")),
    table(["burn over", "and over", "alert above", "now", "", ""], s.burn_rates.map((b) => [b.long, b.short, `${b.factor}×`,
      `${b.long_burn.toFixed(2)}× / ${b.short_burn.toFixed(2)}×`, b.severity, b.burning ? h("span", { class: "unhealthy" }, "burning") : "ok"])),
    budgetChart(s, now));
}

function explain(d) {
  const i = d.inputs || {};
  const bits = [];
  for (const k of ["mode", "current_replicas", "metric", "value", "target", "forecast", "rough_demand"]) if (i[k] !== undefined) bits.push(`${k} ${short(i[k], 60)}`);
  if (d.result && d.result.shadow) bits.push(d.result.shadow);
  if (d.result && d.result.outcome) bits.push(`outcome ${short(d.result.outcome, 80)}`);
  return bits.length ? bits.join("; ") : short(i, 160);
}
