// Runbooks, remediation actions and their approvals, the audit log and the kill switch belong to
// parts of vigil that may not be in this build: each is shown only when its endpoint answers
// (GET /api/v1/runbooks, /actions, /audit, /automation).
import { get, post } from "../api.js";
import { ago, card, h, link, mount, short, table, tree, when } from "../dom.js";

const PROBES = {
  actions: "/api/v1/actions?limit=50", runbooks: "/api/v1/runbooks", audit: "/api/v1/audit?limit=100",
  killSwitch: "/api/v1/automation",
};
const FRESH_MS = 30000; // which endpoints exist does not change often: ask again at most this often
let cached = null;
let cachedAt = 0;

async function optional(path) {
  try { return await get(path, { quiet: true }); } catch { return null; }
}

const list = (body, key) => (body && Array.isArray(body[key]) ? body[key] : null);
const switchOf = (body) => (body && typeof body.paused === "boolean" ? body : null);

// Which of these endpoints this vigil has (kept FRESH_MS), with the actions and the kill switch asked
// again on every call: they change live, and a page redrawn after a pass must show their new state.
export async function extras(maxAgeMs = FRESH_MS) {
  if (cached && Date.now() - cachedAt < maxAgeMs) {
    const [actions, killSwitch] = await Promise.all([cached.actions ? optional(PROBES.actions) : null,
      cached.killSwitch ? optional(PROBES.killSwitch) : null]);
    return { ...cached, actions: list(actions, "actions") || cached.actions, killSwitch: switchOf(killSwitch) || cached.killSwitch };
  }
  const [actions, runbooks, audit, killSwitch] = await Promise.all(Object.values(PROBES).map(optional));
  cached = { actions: list(actions, "actions"), runbooks: list(runbooks, "runbooks"), audit: list(audit, "records"),
    killSwitch: switchOf(killSwitch) };
  cachedAt = Date.now();
  return cached;
}

export async function detectExtras() {
  const found = cached || (await extras());
  return Boolean(found.actions || found.runbooks || found.audit);
}

// One incident's actions (the API filters them), or null when this vigil has no actions endpoint.
export async function actionsOf(incident) {
  const found = cached || (await extras()); // only whether the endpoint exists: the list is asked for here
  if (!found.actions) return null;
  return (await get(`/api/v1/actions?incident=${encodeURIComponent(incident)}&limit=50`)).actions;
}

// The actions' moves as the live stream told them (each pass's `actions`), newest first: shown above
// the actions table until the next sign-in.
const MOVES_KEPT = 8;
const moves = [];
export function noteMoves(list) {
  const at = Date.now() / 1000;
  for (const m of list) moves.unshift({ ...m, at });
  moves.length = Math.min(moves.length, MOVES_KEPT);
}

export function movesList() {
  if (!moves.length) return null;
  return h("ul", { class: "moves", id: "action-moves", "aria-live": "polite" }, moves.map((m) => h("li", { dataset: { action: String(m.id), state: m.state } },
    h("span", { class: "muted" }, `${ago(m.at)} `), `#${m.id} ${m.runbook || ""} on ${m.service}: ${m.from || "?"} → ${m.state}`,
    m.note ? h("span", { class: "muted" }, ` · ${short(m.note, 140)}`) : null)));
}

const VERDICT = { passed: "healthy", failed: "unhealthy", verifying: "degraded", not_reached: "unhealthy", not_run: "unknown", not_started: "unknown" };

// The verification verdict: a word (passed, failed, verifying...) and what was seen.
export function verdict(a) {
  const v = a.verification || { state: "not_started", detail: "" };
  return h("span", { class: "verdict", dataset: { verification: v.state } },
    h("span", { class: `badge ${VERDICT[v.state] || "unknown"}` }, v.state.replace("_", " ")),
    v.state === "verifying" && v.deadline ? h("span", { class: "muted" }, ` until ${when(v.deadline)}`) : null,
    v.detail && v.state !== "not_started" ? h("div", { class: "muted" }, short(v.detail, 160)) : null);
}

function steps(a) {
  if (!a.steps || !a.steps.length) return "";
  return h("details", {}, h("summary", {}, `${a.steps.length} step${a.steps.length > 1 ? "s" : ""}`),
    h("ol", { class: "steps" }, a.steps.map((st) => h("li", { dataset: { state: st.state } },
      `${st.phase === "rollback" ? "rollback: " : ""}${st.kind} · ${st.state}${st.detail ? ` · ${short(st.detail, 120)}` : ""}`))));
}

// Actions as a table: state, verification verdict and steps; a pending one has approve and deny
// buttons. `after` redraws what holds it.
export function actionsTable(actions, after) {
  const message = h("p", { class: "error", role: "alert" });
  const decide = (id, verb) => async (e) => {
    message.textContent = "";
    e.target.disabled = true;
    try { await post(`/api/v1/actions/${encodeURIComponent(id)}/${verb}`); await after(); } catch (err) { message.textContent = err.message; e.target.disabled = false; }
  };
  const rows = actions.map((a) => [
    String(a.id), a.runbook, link(["service", a.service], a.service), a.incident ? link(["incident", a.incident], `#${a.incident}`) : "",
    h("span", { class: "state", dataset: { state: a.state } }, a.state), verdict(a), ago(a.updated_at),
    h("div", {}, short(a.outcome || (a.story || []).slice(-1)[0] || "", 120), steps(a)),
    a.state === "pending" ? h("span", { class: "row" },
      h("button", { type: "button", dataset: { approve: String(a.id) }, onclick: decide(a.id, "approve") }, "Approve"),
      h("button", { type: "button", class: "secondary", dataset: { deny: String(a.id) }, onclick: decide(a.id, "deny") }, "Deny"),
      a.expires_at ? h("span", { class: "muted" }, `lapses ${when(a.expires_at)}`) : null) : ""]);
  const t = table(["#", "runbook", "service", "incident", "state", "verification", "updated", "what happened", ""], rows, "no actions");
  t.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.action = String(actions[i].id); tr.dataset.state = actions[i].state; });
  return h("div", { class: "actions-list" }, t, message);
}

export function killSwitchCard(state, after) {
  const message = h("p", { class: "error", role: "alert" });
  const flip = async () => {
    const reason = state.paused ? "resumed from the dashboard" : "paused from the dashboard";
    try { await post("/api/v1/automation", { paused: !state.paused, reason }); await after(); } catch (e) { message.textContent = e.message; }
  };
  return h("section", { class: "card", id: "kill-switch", dataset: { paused: String(state.paused) } }, h("h2", {}, "Kill switch"),
    h("p", { class: state.paused ? "unhealthy" : "healthy" }, state.paused ? "PAUSED: vigil takes no automatic action" : "off: vigil acts on its own"),
    state.by ? h("p", { class: "muted" }, `${state.paused ? "paused" : "resumed"} by ${state.by} ${ago(state.at)}${state.reason ? `: ${state.reason}` : ""}`) : null,
    h("button", { type: "button", class: state.paused ? "" : "secondary", onclick: flip }, state.paused ? "Resume automation" : "Pause all automation"),
    message);
}

export async function morePage(root) {
  const found = await extras(0);
  const again = () => morePage(root);
  const parts = [];
  if (found.killSwitch) parts.push(killSwitchCard(found.killSwitch, again));
  if (found.actions) parts.push(h("section", { class: "card wide" }, h("h2", {}, "Actions"), actionsTable(found.actions, again)));
  if (found.runbooks) parts.push(card("Runbooks", tree(found.runbooks)));
  if (found.audit) parts.push(auditCard(found.audit));
  mount(root, h("h1", {}, "Actions, runbooks and audit"), parts.length ? h("div", { class: "grid" }, parts)
    : h("p", { class: "muted" }, "This vigil has no actions, runbooks or audit endpoints yet."));
  return false;
}

// The audit log, searched by the server (plain text: `q`), newest first.
function auditCard(first) {
  const q = h("input", { type: "search", placeholder: "search the audit log", "aria-label": "search the audit log", maxlength: "200" });
  const body = h("div", {});
  const show = (records) => mount(body, table(["when", "who", "what", "service", "why"], records.map((e) => [
    when(e.ts), e.actor, e.action, e.service || "", short(e.reason ?? "", 140)]), "no records"));
  let timer = null;
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try { show((await get(`/api/v1/audit?limit=100${q.value ? `&q=${encodeURIComponent(q.value)}` : ""}`)).records); } catch (e) { mount(body, h("p", { class: "error" }, e.message)); }
    }, 300);
  });
  show(first);
  return h("section", { class: "card wide", id: "audit" }, h("h2", {}, "Audit log"), q, body);
}
