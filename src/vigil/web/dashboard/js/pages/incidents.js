// Incidents: the list, and one incident with its timeline, summary, ranked root causes and their
// evidence, affected services, alerts and similar past incidents; acknowledge, resolve, assign, note.
import { get, post } from "../api.js";
import { ago, badge, card, h, link, mount, short, table, tree, when } from "../dom.js";
import { actionsOf, actionsTable } from "./more.js";

const STATUSES = ["active", "open", "acknowledged", "resolved", "all"];

export async function incidentsPage(root, [status = "active"]) {
  const body = await get(`/api/v1/incidents?status=${encodeURIComponent(status)}&limit=200`);
  mount(root, h("h1", {}, "Incidents"),
    h("p", { class: "row" }, STATUSES.map((s) => (s === status ? h("strong", {}, s) : link(["incidents", s], s)))),
    card(null, table(["", "incident", "status", "service", "opened", "assignee"], body.incidents.map((i) => [
      badge(i.severity), link(["incident", i.id], `#${i.id} ${i.title}`), i.status, i.service, ago(i.opened_at), i.assignee || ""]), "none")));
  return true;
}

export async function incidentPage(root, [id], { fresh }) {
  const inc = await get(`/api/v1/incidents/${encodeURIComponent(id)}`);
  const actions = await actionsOf(inc.id);
  if (fresh || !root.querySelector("#incident-detail")) {
    // The actions card is drawn once: a live redraw of the rest never loses what someone is typing.
    mount(root, h("div", { id: "incident-head" }), actionsCard(inc.id, root), h("div", { id: "incident-detail" }));
  }
  mount(root.querySelector("#incident-head"),
    h("h1", { dataset: { status: inc.status } }, badge(inc.severity), ` #${inc.id} ${inc.title}`),
    h("p", { id: "incident-status" }, badge(inc.status), ` opened ${when(inc.opened_at)}`,
      inc.acknowledged_by ? ` · acknowledged by ${inc.acknowledged_by} ${ago(inc.acknowledged_at)}` : "",
      inc.assignee ? ` · assigned to ${inc.assignee}` : "", inc.resolved_at ? ` · resolved ${when(inc.resolved_at)}${inc.resolved_by ? ` by ${inc.resolved_by}` : ""}` : ""));
  mount(root.querySelector("#incident-detail"),
    h("div", { class: "grid" },
      actions ? h("section", { class: "card wide", id: "incident-remediation" }, h("h2", {}, "Remediation: actions and their verification"),
        actionsTable(actions, () => incidentPage(root, [String(inc.id)], { fresh: false }))) : null,
      card("Summary", inc.summary ? h("pre", {}, inc.summary) : h("p", { class: "muted" }, "no summary yet")),
      h("section", { class: "card", id: "root-causes" }, h("h2", {}, "Probable root causes"), inc.root_causes.length
        ? h("ol", {}, inc.root_causes.map((rc) => h("li", {}, link(["service", rc.service], rc.service),
          typeof rc.score === "number" ? ` (score ${rc.score.toFixed(2)})` : "", rc.why ? h("div", {}, short(rc.why, 400)) : null,
          rc.evidence ? h("details", {}, h("summary", {}, "evidence"), tree(rc.evidence)) : null)))
        : h("p", { class: "muted" }, "not ranked yet")),
      card("Affected services", h("p", {}, inc.services.map((s, i) => [i ? ", " : "", link(["service", s], s)]))),
      h("section", { class: "card wide" }, h("h2", {}, "Alerts"), table(["alert", "service", "severity", "firing", "why"], inc.alerts.map((a) => [a.alertname, a.service, a.severity,
        a.firing ? "firing" : "resolved", short(a.why || a.summary || "", 120)]))),
      h("section", { class: "card wide", id: "timeline" }, h("h2", {}, "Timeline"), h("ul", { class: "timeline" }, inc.timeline.map((e) => h("li", {},
        h("div", { class: "when" }, `${when(e.ts)} · ${e.kind}${e.actor ? ` · ${e.actor}` : ""}`), e.message)))),
      card("Similar past incidents", table(["incident", "likeness", "resolution"], inc.similar.map((m) => [
        link(["incident", m.id], `#${m.id} ${m.title}`), m.likeness, short(m.resolution || "", 120)]), "none found"))));
  const acting = root.querySelector("#incident-actions");
  if (acting) acting.dataset.status = inc.status;
  return true;
}

function actionsCard(id, root) {
  const message = h("p", { class: "error", role: "alert" });
  const assignee = h("input", { name: "assignee", placeholder: "who", "aria-label": "assignee", maxlength: "200" });
  const note = h("textarea", { name: "note", rows: "2", placeholder: "a note for the timeline", "aria-label": "note", maxlength: "4000" });
  const doing = (verb, body) => async () => {
    message.textContent = "";
    try {
      await post(`/api/v1/incidents/${encodeURIComponent(id)}/${verb}`, body ? body() : undefined);
      if (verb === "notes") note.value = "";
      await incidentPage(root, [String(id)], { fresh: false });
    } catch (e) { message.textContent = e.message; }
  };
  return h("section", { class: "card actions", id: "incident-actions" }, h("h2", {}, "Act"),
    h("div", { class: "row" },
      h("button", { type: "button", id: "ack", onclick: doing("acknowledge") }, "Acknowledge"),
      h("button", { type: "button", id: "resolve", class: "secondary", onclick: doing("resolve", () => ({ note: note.value || null })) }, "Resolve")),
    h("div", { class: "row" }, assignee, h("button", { type: "button", class: "secondary", onclick: doing("assign", () => ({ assignee: assignee.value })) }, "Assign")),
    h("div", { class: "form" }, note, h("button", { type: "button", class: "secondary", onclick: doing("notes", () => ({ text: note.value })) }, "Add note")),
    message);
}
