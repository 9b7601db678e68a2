// Runbooks, pending actions and approvals, the audit log and the kill switch belong to other parts
// of vigil that may not be in this build: each is shown only when its endpoint answers.
import { get, post } from "../api.js";
import { card, h, mount, short, table, tree, when } from "../dom.js";

const PROBES = {
  actions: "/api/v1/actions?limit=50", runbooks: "/api/v1/runbooks", audit: "/api/v1/audit?limit=100",
  killSwitch: "/api/v1/killswitch",
};
const FRESH_MS = 30000; // what exists does not change often: ask again at most this often
let cached = null;
let cachedAt = 0;

async function optional(path) {
  try { return await get(path, { quiet: true }); } catch { return null; }
}

const list = (body, key) => (body && (Array.isArray(body) ? body : body[key] || body.items || [])) || null;

export async function extras(maxAgeMs = FRESH_MS) {
  if (cached && Date.now() - cachedAt < maxAgeMs) return cached;
  const [actions, runbooks, audit, killSwitch] = await Promise.all(Object.values(PROBES).map(optional));
  cached = { actions: list(actions, "actions"), runbooks: list(runbooks, "runbooks"), audit: list(audit, "entries") || list(audit, "audit"), killSwitch };
  cachedAt = Date.now();
  return cached;
}

export async function detectExtras() {
  const found = cached || (await extras());
  return Boolean(found.actions || found.runbooks || found.audit);
}

export async function morePage(root) {
  const found = await extras(0);
  const parts = [];
  if (found.actions) {
    parts.push(card("Actions", table(["id", "what", "state", "updated", ""], found.actions.map((a) => [
      String(a.id), short(a.runbook || a.name || a.kind, 80), a.state || a.status, when(a.updated_at || a.created_at),
      (a.state || a.status) === "pending" ? h("span", { class: "row" },
        h("button", { type: "button", dataset: { approve: String(a.id) }, onclick: () => decide(a.id, "approve", root) }, "Approve"),
        h("button", { type: "button", class: "secondary", onclick: () => decide(a.id, "deny", root) }, "Deny")) : ""]))));
  }
  if (found.runbooks) parts.push(card("Runbooks", tree(found.runbooks)));
  if (found.audit) {
    const q = h("input", { type: "search", placeholder: "search the audit log", "aria-label": "search the audit log" });
    const body = h("div", {});
    const show = () => {
      const words = q.value.toLowerCase();
      const rows = found.audit.filter((e) => !words || JSON.stringify(e).toLowerCase().includes(words));
      mount(body, table(["when", "who", "what"], rows.map((e) => [when(e.ts), e.actor || e.who || "", short(e.action || e.message || e, 160)])));
    };
    q.addEventListener("input", show); show();
    parts.push(card("Audit log", q, body));
  }
  mount(root, h("h1", {}, "Actions, runbooks and audit"), parts.length ? h("div", { class: "grid" }, parts)
    : h("p", { class: "muted" }, "This vigil has no actions, runbooks or audit endpoints yet."));
  return false;
}

async function decide(id, verb, root) {
  try { await post(`/api/v1/actions/${encodeURIComponent(id)}/${verb}`); } catch (e) { alert(e.message); }
  await morePage(root);
}
