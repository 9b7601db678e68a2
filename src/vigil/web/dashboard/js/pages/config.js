// The running configuration, read-only, secrets masked by the server.
import { get } from "../api.js";
import { card, h, mount, tree } from "../dom.js";

export async function configPage(root) {
  const body = await get("/api/v1/config");
  mount(root, h("h1", {}, "Configuration"), h("p", { class: "muted" }, "Read-only; secrets are shown as ***. Change vigil.yaml and reload to change it."),
    card(null, h("div", { class: "tree", id: "config" }, tree(body.config))));
  return false;
}
