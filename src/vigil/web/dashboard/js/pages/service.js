// A service: health and probes (with their history), metric charts with anomaly marks and forecast
// bands, replicas over time with each scaling decision's explanation, and a by-hour heatmap.
import { get } from "../api.js";
import { hourHeatmap, metricChart, replicaChart } from "../charts.js";
import { ago, badge, card, h, link, mount, short, table, when } from "../dom.js";
import { replicasText } from "./overview.js";

const MAX_CHARTS = 8;
const enc = encodeURIComponent;

export async function servicePage(root, [name]) {
  const q = `service=${enc(name)}`;
  const [svc, probes, signals, scaling, forecasts, series, incidents] = await Promise.all([
    get(`/api/v1/services/${enc(name)}`), get(`/api/v1/probes?${q}&limit=50`), get(`/api/v1/signals?${q}&since=-1h&limit=500`),
    get(`/api/v1/scaling/decisions?${q}&since=-6h&limit=2000`), get(`/api/v1/forecasts?${q}`),
    get(`/api/v1/series?${q}&limit=200`),
    get(`/api/v1/incidents?${q}&status=all&limit=10`),
  ]);
  const fcBySeries = new Map(forecasts.forecasts.map((f) => [f.series, f]));
  // Charts for what matters first: forecast series, then series with signals, then the rest by name.
  const flagged = new Set(signals.signals.map((sg) => sg.series));
  const rank = (x) => (fcBySeries.has(x.series) ? 0 : flagged.has(x.series) ? 1 : /^process_|^python_/.test(x.name) ? 3 : 2);
  const chosen = [...series.series].sort((a, b) => rank(a) - rank(b) || a.series.localeCompare(b.series)).slice(0, MAX_CHARTS);
  const points = await Promise.all(chosen.map((x) => get(`/api/v1/query?series=${enc(x.series)}&start=-1h&step=15s`).catch(() => null)));
  const charts = chosen.map((x, i) => {
    if (!points[i]) return null;
    const marks = signals.signals.filter((sg) => sg.series === x.series && sg.kind !== "forecast").map((sg) => sg.ts);
    return metricChart(x.series, points[i], marks, fcBySeries.get(x.series));
  }).filter(Boolean);
  const heatSource = chosen.find((x) => /cpu|memory|rss|requests/.test(x.name)) || chosen[0];
  const heat = heatSource ? await get(`/api/v1/query?series=${enc(heatSource.series)}&start=-7d&step=1h`).catch(() => null) : null;
  const latency = probes.results.filter((p) => typeof p.latency_s === "number").reverse();

  mount(root,
    h("h1", {}, name, " ", badge(svc.health)),
    h("p", { class: "muted" }, svc.description || "", svc.depends_on.length ? ` · depends on ` : "",
      svc.depends_on.map((d, i) => [i ? ", " : "", link(["service", d], d)])),
    h("div", { class: "grid" },
      card("Probes", table(["probe", "health", "since", "detail"], svc.probes.map((p) => [p.probe, badge(p.health), ago(p.since), short(p.detail || "", 120)]), "no probes")),
      h("section", { class: "card", id: "scaling" }, h("h2", {}, "Scaling"), replicaChart(scaling.decisions),
        table(["when", "rule", "replicas", "why"], scaling.decisions.slice(0, 12).map((d) => [when(d.ts), d.rule, replicasText(d), explain(d)]), "no scaling policy or no decisions yet")),
      h("section", { class: "card wide", id: "metrics" }, h("h2", {}, `Metrics (last hour${series.series.length > MAX_CHARTS ? `, ${MAX_CHARTS} of ${series.series.length}` : ""})`),
        charts.length ? h("div", { class: "grid" }, charts) : h("p", { class: "muted" }, "no metrics stored for this service")),
      heat && heat.count ? card(`By hour of day: ${heatSource.series} (7 days)`, hourHeatmap(heat)) : null,
      h("section", { class: "card wide" }, h("h2", {}, "Probe history"), latency.length ? metricChart("probe latency (s)", { ts: latency.map((p) => p.ts), values: latency.map((p) => p.latency_s) },
        probes.results.filter((p) => !p.ok).map((p) => p.ts)) : null,
      table(["when", "probe", "ok", "latency", "detail"], probes.results.slice(0, 15).map((p) => [when(p.ts), p.probe, p.ok ? "ok" : "failed",
        typeof p.latency_s === "number" ? `${(p.latency_s * 1000).toFixed(0)} ms` : "", short(p.detail || "", 80)]))),
      card("Incidents", table(["", "incident", "status", "opened"], incidents.incidents.map((i) => [badge(i.severity), link(["incident", i.id], `#${i.id} ${i.title}`), i.status, ago(i.opened_at)]), "none")),
      card("Signals (last hour)", table(["when", "kind", "series", "reason"], signals.signals.slice(0, 20).map((sg) => [when(sg.ts), sg.kind, short(sg.series, 60), short(sg.reason, 120)]), "none"))));
  return true;
}

function explain(d) {
  const i = d.inputs || {};
  const bits = [];
  for (const k of ["mode", "current_replicas", "metric", "value", "target", "forecast", "rough_demand"]) if (i[k] !== undefined) bits.push(`${k} ${short(i[k], 60)}`);
  if (d.result && d.result.shadow) bits.push(d.result.shadow);
  if (d.result && d.result.outcome) bits.push(`outcome ${short(d.result.outcome, 80)}`);
  return bits.length ? bits.join("; ") : short(i, 160);
}
