// Reports: daily, weekly, executive figures (JSON) shown as tables; Markdown to download.
import { get, call } from "../api.js";
import { card, h, link, mount, tree } from "../dom.js";

const KINDS = ["daily", "weekly", "executive"];

export async function reportsPage(root, [kind = "daily"]) {
  if (!KINDS.includes(kind)) kind = "daily";
  const rep = await get(`/api/v1/reports/${kind}?format=json`);
  const download = h("button", { type: "button", class: "secondary", onclick: async () => {
    const r = await call("GET", `/api/v1/reports/${kind}?format=md`, undefined, { raw: true });
    const url = URL.createObjectURL(await r.blob());
    const a = h("a", { href: "#", download: `vigil-${kind}-report.md` });
    a.setAttribute("href", url); a.click(); URL.revokeObjectURL(url);
  } }, "Download Markdown");
  mount(root, h("h1", {}, "Reports"), h("p", { class: "row" }, KINDS.map((k) => (k === kind ? h("strong", {}, k) : link(["reports", k], k))), download),
    card(`${kind} report`, tree(rep)));
  return false;
}
