// The dependency map: services in columns by depth (a service to the left of what it depends on),
// each box coloured by health; an arrow from a service to each of its dependencies.
import { s } from "./dom.js";

const W = 150; const H = 40; const GAP_X = 70; const GAP_Y = 20;

const MAX_DRAWN = 60; // beyond this a map is a wall of boxes: draw what is not healthy and its neighbours

// The services worth drawing: all of them in a small fleet; in a large one those not healthy, with
// what they depend on and what depends on them.
export function mapped(services) {
  if (services.length <= MAX_DRAWN) return services;
  const troubled = new Set(services.filter((x) => x.health !== "healthy").map((x) => x.name));
  const keep = new Set(troubled);
  for (const x of services) {
    const deps = x.depends_on || [];
    if (troubled.has(x.name)) deps.forEach((d) => keep.add(d));
    else if (deps.some((d) => troubled.has(d))) keep.add(x.name);
  }
  return services.filter((x) => keep.has(x.name)).slice(0, MAX_DRAWN);
}

export function dependencyMap(services, onOpen) {
  const byName = new Map(services.map((x) => [x.name, x]));
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0; // a cycle: stop here
    seen.add(name);
    const deps = (byName.get(name)?.depends_on || []).filter((d) => byName.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => depthOf(x, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  services.forEach((x) => depthOf(x.name));
  const maxDepth = Math.max(0, ...depth.values());
  const columns = [];
  for (const x of services) { const c = maxDepth - depth.get(x.name); (columns[c] ||= []).push(x); }
  const pos = new Map();
  columns.forEach((col, c) => col.forEach((x, r) => pos.set(x.name, { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) })));
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  const edges = [];
  for (const x of services) {
    for (const d of x.depends_on || []) {
      if (!pos.has(d)) continue;
      const a = pos.get(x.name); const b = pos.get(d);
      edges.push(s("line", { x1: a.x + W, y1: a.y + H / 2, x2: b.x - 4, y2: b.y + H / 2 }));
    }
  }
  const nodes = services.map((x) => {
    const p = pos.get(x.name);
    const label = x.name.length > 18 ? x.name.slice(0, 17) + "…" : x.name;
    return s("g", { class: `node ${x.health}`, dataset: { service: x.name, health: x.health }, role: "link", tabindex: "0",
      onclick: () => onOpen(x.name), onkeydown: (e) => { if (e.key === "Enter") onOpen(x.name); } },
    s("title", {}, `${x.name}: ${x.health}`),
    s("rect", { x: p.x, y: p.y, width: W, height: H }),
    s("text", { x: p.x + W / 2, y: p.y + H / 2 }, label));
  });
  return s("svg", { class: "depmap", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "dependency map" },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
      s("path", { class: "arrow", d: "M 0 0 L 10 5 L 0 10 z" }))),
    edges, nodes);
}
