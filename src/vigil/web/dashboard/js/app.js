// The dashboard's shell: sign-in, a hash router over the pages, and live refresh (a page that shows
// live data is drawn again, at most every REFRESH_MS, after the engine recorded something).
import * as api from "./api.js";
import { connect } from "./live.js";
import { h, mount } from "./dom.js";
import { overview } from "./pages/overview.js";
import { servicePage } from "./pages/service.js";
import { incidentPage, incidentsPage } from "./pages/incidents.js";
import { silencesPage } from "./pages/silences.js";
import { notificationsPage } from "./pages/notifications.js";
import { reportsPage } from "./pages/reports.js";
import { configPage } from "./pages/config.js";
import { morePage, detectExtras, noteMoves } from "./pages/more.js";

const REFRESH_MS = 2000; // at most this often; a page that takes long to draw is drawn less often
let lastDrawMs = 0;
const ROUTES = {
  "": overview, service: servicePage, incidents: incidentsPage, incident: incidentPage, silences: silencesPage,
  notifications: notificationsPage, reports: reportsPage, config: configPage, more: morePage,
};

const $ = (id) => document.getElementById(id);
const page = $("page");
let current = null; // { render, params, live }
let disconnect = null;
let pending = null;
let drawing = false;

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const name = ROUTES[parts[0]] ? parts[0] : "";
  return { name, params: parts.slice(1) };
}

async function draw() {
  if (drawing) { scheduleRefresh(); return; }
  drawing = true;
  const { name, params } = route();
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("here", a.getAttribute("href") === `#/${name}`);
  const view = ROUTES[name];
  const fresh = !current || current.name !== name || current.params.join("/") !== params.join("/");
  try {
    if (fresh) { delete document.body.dataset.ready; mount(page, h("p", { class: "muted" }, "loading…")); }
    const started = performance.now();
    current = { name, params, live: await view(page, params, { fresh }) };
    lastDrawMs = performance.now() - started;
  } catch (e) {
    if (e.status !== 401) mount(page, h("div", { class: "card error" }, `Could not load this page: ${e.message}`));
  } finally { drawing = false; }
}

function scheduleRefresh() {
  if (pending || !current || !current.live) return;
  pending = setTimeout(() => { pending = null; draw(); }, Math.max(REFRESH_MS, 4 * lastDrawMs));
}

function setLive(state) {
  const el = $("live");
  el.textContent = state === "live" ? "live" : "offline";
  el.className = `live ${state === "live" ? "on" : "off"}`;
}

async function signedIn(who) {
  $("login").hidden = true;
  $("nav").hidden = false;
  $("logout").hidden = false;
  $("logout").title = who && who.principal ? `signed in as ${who.principal}` : "";
  if (!disconnect) {
    disconnect = connect((event, data) => {
      if (event === "pass" && Array.isArray(data.actions) && data.actions.length) noteMoves(data.actions);
      if (event === "pass" || event === "lost") scheduleRefresh();
    }, setLive);
  }
  detectExtras().then((found) => { $("nav-more").hidden = !found; });
  await draw();
}

function signedOut(message = "") {
  if (disconnect) { disconnect(); disconnect = null; }
  current = null;
  page.replaceChildren();
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-key").focus();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("login-key").value.trim();
  try {
    const who = await api.login(key);
    $("login-key").value = "";
    await signedIn(who);
  } catch (err) {
    $("login-error").textContent = err.status === 401 || err.status === 403 ? "That key was not accepted." : `Could not sign in: ${err.message}`;
  }
});
$("logout").addEventListener("click", async () => { await api.logout(); signedOut(); });
api.whenUnauthorised(() => signedOut("Your session ended; sign in again."));
window.addEventListener("hashchange", draw);

api.restore().then((who) => (who ? signedIn(who) : signedOut()), () => signedOut());
