// Overview: every service's health, the dependency map, open incidents by severity, recent scaling
// decisions and actions, and the kill switch when this vigil has one. Sets body[data-ready] once drawn.
import { get } from "../api.js";
import { dependencyMap, mapped } from "../depmap.js";
import { ago, badge, card, h, link, mount, short, table, when } from "../dom.js";
import { actionsTable, extras, killSwitchCard, movesList } from "./more.js";

const SEVERITIES = ["critical", "warning", "info"];

export async function overview(root) {
  const [svc, inc, scaling] = await Promise.all([
    get("/api/v1/services"), get("/api/v1/incidents?status=active&limit=200"), get("/api/v1/scaling/decisions?limit=10"),
  ]);
  const services = svc.services;
  const found = await extras();
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const i of inc.incidents) counts[i.severity] = (counts[i.severity] || 0) + 1;
  const healthCount = {};
  for (const s of services) healthCount[s.health] = (healthCount[s.health] || 0) + 1;

  const parts = [
    h("section", { class: "card wide", id: "services" }, h("h2", {}, `Services (${services.length})`),
      h("p", { class: "muted" }, Object.entries(healthCount).map(([k, n]) => `${n} ${k}`).join(" · ")),
      h("div", { class: "services" }, services.map((s) => h("a", {
        class: `svc ${s.health}`, href: `#/service/${encodeURIComponent(s.name)}`, dataset: { service: s.name, health: s.health },
      }, badge(s.health), h("strong", {}, s.name), h("div", { class: "muted" }, short(s.description || "", 60)))))),
    card("Dependency map", drawnMap(services)),
    h("section", { class: "card", id: "open-incidents" }, h("h2", {}, "Open incidents"),
      h("div", { class: "counts" }, SEVERITIES.map((s) => h("span", { class: s }, h("b", {}, counts[s] || 0), s))),
      table(["", "incident", "service", "opened"], inc.incidents.slice(0, 10).map((i) => [
        badge(i.severity), link(["incident", i.id], `#${i.id} ${i.title}`), i.service, ago(i.opened_at)]), "nothing open")),
    card("Recent scaling decisions", table(["when", "service", "rule", "replicas"], scaling.decisions.map((d) => [
      when(d.ts), link(["service", d.subject], d.subject), d.rule, replicasText(d)]), "no scaling decisions yet")),
  ];
  const again = () => overview(root);
  if (found.killSwitch) parts.push(killSwitchCard(found.killSwitch, again));
  if (found.actions) parts.push(h("section", { class: "card wide", id: "recent-actions" }, h("h2", {}, "Recent actions and their verification"), movesList(), actionsTable(found.actions.slice(0, 10), again)));
  mount(root, h("h1", {}, "Overview"), h("div", { class: "grid" }, parts));
  document.body.dataset.ready = "1";
  return true;
}

function drawnMap(services) {
  if (!services.length) return h("p", { class: "muted" }, "no services configured");
  const drawn = mapped(services);
  const open = (name) => { location.hash = `#/service/${encodeURIComponent(name)}`; };
  if (!drawn.length) return h("p", { class: "healthy" }, `all ${services.length} services healthy`);
  return [drawn.length < services.length ? h("p", { class: "muted" }, `${drawn.length} of ${services.length}: those not healthy and their neighbours`) : null,
    dependencyMap(drawn, open)];
}

export function replicasText(d) {
  const r = d.result || {};
  const now = d.inputs && d.inputs.current_replicas;
  if (typeof r.replicas !== "number") return short(r, 60);
  return now !== undefined && now !== r.replicas ? `${now} → ${r.replicas}` : String(r.replicas);
}
