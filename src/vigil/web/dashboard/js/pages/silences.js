// Silences: list them, create one (matchers, how long, why), expire one.
import { call, get, post } from "../api.js";
import { card, h, mount, table, when } from "../dom.js";

export async function silencesPage(root) {
  let body;
  try { body = await get("/api/v1/silences"); } catch (e) {
    if (e.status !== 404) throw e;
    mount(root, h("h1", {}, "Silences"), card(null, h("p", { class: "muted" }, e.detail)));
    return false;
  }
  const message = h("p", { class: "error", role: "alert" });
  const matchers = h("input", { name: "matchers", required: true, placeholder: '{service="payments"}', "aria-label": "matchers", maxlength: "4096" });
  const hours = h("input", { name: "hours", type: "number", min: "0.1", step: "0.1", value: "2", "aria-label": "hours" });
  const comment = h("input", { name: "comment", required: true, placeholder: "why", "aria-label": "comment", maxlength: "4096" });
  const form = h("form", { class: "form", id: "silence-form" }, matchers, h("label", {}, "for hours ", hours), comment,
    h("button", { type: "submit" }, "Create silence"), message);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    message.textContent = "";
    try {
      await post("/api/v1/silences", { matchers: matchers.value, ends_at: Date.now() / 1000 + Number(hours.value) * 3600, comment: comment.value });
      await silencesPage(root);
    } catch (err) { message.textContent = err.message; }
  });
  const expire = (id) => async () => {
    try { await call("DELETE", `/api/v1/silences/${encodeURIComponent(id)}`); await silencesPage(root); } catch (err) { message.textContent = err.message; }
  };
  mount(root, h("h1", {}, "Silences"), h("div", { class: "grid" },
    card("New silence", form),
    h("section", { class: "card wide" }, h("h2", {}, "Silences"), table(["matchers", "state", "from", "until", "by", "why", ""], body.silences.map((x) => [
      x.matchers, x.state, when(x.starts_at), when(x.ends_at), x.created_by, x.comment,
      x.state === "expired" ? "" : h("button", { type: "button", class: "secondary", onclick: expire(x.id) }, "Expire")]), "no silences"))));
  return false;
}
