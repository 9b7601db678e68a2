// Talking to vigil's API. Signing in makes a session (POST /api/v1/session: an HttpOnly cookie plus
// a CSRF token sent back as X-CSRF-Token on every change). A vigil without the session endpoint is
// spoken to with the key itself (Authorization: Bearer), kept in this tab's sessionStorage only.
export class ApiError extends Error {
  constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; this.detail = detail; }
}

const KEY = "vigil.key";
let mode = null; // "session" | "key"
let key = null;
let onUnauthorised = () => {};

export const whenUnauthorised = (fn) => { onUnauthorised = fn; };

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

export function authHeaders(method = "GET") {
  const out = {};
  if (mode === "key" && key) out.Authorization = `Bearer ${key}`;
  if (mode === "session" && method !== "GET" && method !== "HEAD") {
    const token = cookie("vigil_csrf");
    if (token) out["X-CSRF-Token"] = token;
  }
  return out;
}

async function detailOf(r) {
  try {
    const body = await r.json();
    const d = body.detail ?? body.error ?? body;
    return typeof d === "string" ? d : JSON.stringify(d);
  } catch { return r.statusText || "request failed"; }
}

export async function call(method, path, body, { quiet = false, raw = false } = {}) {
  const headers = authHeaders(method);
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const r = await fetch(path, init);
  if (r.status === 401 && !quiet) onUnauthorised();
  if (!r.ok) throw new ApiError(r.status, await detailOf(r));
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

export const get = (path, opts) => call("GET", path, undefined, opts);
export const post = (path, body) => call("POST", path, body ?? {});

// Whether an endpoint exists here (a feature another part of vigil may not have yet).
export async function answers(path) {
  try { await get(path, { quiet: true }); return true; } catch (e) { return e.status !== 404 && e.status !== 405 ? null : false; }
}

export async function restore() {
  const r = await fetch("/api/v1/session", { credentials: "same-origin" });
  if (r.ok) { mode = "session"; return r.json(); }
  const saved = sessionStorage.getItem(KEY);
  if (saved) {
    mode = "key"; key = saved;
    try { await get("/api/v1/services", { quiet: true }); return { principal: "API key" }; } catch {
      sessionStorage.removeItem(KEY); mode = null; key = null;
    }
  }
  return null;
}

export async function login(presented) {
  const r = await fetch("/api/v1/session", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key: presented }),
  });
  if (r.ok) { mode = "session"; key = null; return r.json(); }
  if (r.status !== 404 && r.status !== 405) throw new ApiError(r.status, await detailOf(r));
  mode = "key"; key = presented;  // no session endpoint in this vigil: use the key itself
  try { await get("/api/v1/services", { quiet: true }); } catch (e) { mode = null; key = null; throw e; }
  sessionStorage.setItem(KEY, presented);
  return { principal: "API key" };
}

export async function logout() {
  if (mode === "session") { try { await call("DELETE", "/api/v1/session", undefined, { quiet: true }); } catch { /* gone already */ } }
  sessionStorage.removeItem(KEY);
  mode = null; key = null;
}
