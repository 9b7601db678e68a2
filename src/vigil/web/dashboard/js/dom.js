// Building the page from data without HTML strings: every piece of text becomes a text node, so
// nothing a service, an alert or a person wrote can run as markup (XSS), and no inline style is set.
const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "href" && !String(v).startsWith("#")) throw new Error("only in-page links are built here");
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const h = (tag, attrs = {}, ...children) => fill(document.createElement(tag), attrs, children);
export const s = (tag, attrs = {}, ...children) => fill(document.createElementNS(SVG_NS, tag), attrs, children);

export function mount(root, ...children) {
  root.replaceChildren();
  fill(root, {}, children);
  return root;
}

export const link = (path, ...children) => h("a", { href: "#/" + path.map(encodeURIComponent).join("/") }, ...children);

export function when(ts) {
  if (ts === null || ts === undefined) return "";
  return new Date(ts * 1000).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function ago(ts) {
  if (!ts) return "";
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const badge = (word) => h("span", { class: `badge ${word}` }, word);

export function table(headers, rows, empty = "none") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

export const card = (title, ...children) => h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);

export function short(value, n = 160) {
  const t = typeof value === "string" ? value : JSON.stringify(value);
  return t && t.length > n ? t.slice(0, n - 1) + "…" : t ?? "";
}

// Any JSON value as nested tables (the config view, report figures).
export function tree(value, depth = 0) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "[]");
    if (value.every((v) => typeof v !== "object" || v === null)) return value.map(String).join(", ");
    return h("div", { class: "tree" }, value.map((v, i) => h("details", { open: depth < 1 },
      h("summary", {}, v && (v.name || v.service || v.kind) ? String(v.name || v.service || v.kind) : `#${i + 1}`),
      tree(v, depth + 1))));
  }
  if (typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return h("span", { class: "muted" }, "{}");
    return h("dl", { class: "kv" }, keys.map((k) => [h("dt", {}, k), h("dd", {}, tree(value[k], depth + 1))]));
  }
  return String(value);
}
