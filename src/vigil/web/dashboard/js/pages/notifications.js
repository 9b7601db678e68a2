// Notifications and their delivery state, and each endpoint's queue and circuit breaker.
import { get } from "../api.js";
import { card, h, mount, short, table, tree, when } from "../dom.js";

export async function notificationsPage(root) {
  let body; let endpoints;
  try { [body, endpoints] = await Promise.all([get("/api/v1/notifications?limit=100"), get("/api/v1/notifications/endpoints")]); } catch (e) {
    if (e.status !== 404) throw e;
    mount(root, h("h1", {}, "Notifications"), card(null, h("p", { class: "muted" }, e.detail)));
    return false;
  }
  mount(root, h("h1", {}, "Notifications"), h("div", { class: "grid" },
    card("By state", tree(body.counts)),
    card("Endpoints", tree(endpoints)),
    h("section", { class: "card wide" }, h("h2", {}, "Latest"), table(["id", "receiver", "via", "kind", "state", "attempts", "updated", "last error"],
      body.notifications.map((n) => [String(n.id), n.receiver, n.integration, n.kind, n.state, String(n.attempts), when(n.updated_at), short(n.last_error || "", 100)]), "nothing sent yet"))));
  return true;
}
