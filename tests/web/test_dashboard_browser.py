"""The dashboard in a real browser (Debian's chromium, headless, driven by Playwright) against a real
`vigil up` watching the demo fleet on loopback, storefront run as replicas by vigil's process actuator:
sign in with a key, see the services and the dependency map, break payments (its health probe fails),
open the incident that opens for it, acknowledge it, see storefront's replicas chart, and the same on a
phone-sized screen; break catalog, whose runbook needs a person's approval: open its incident, see the
pending action, approve it, and watch it run (an HTTP call that clears catalog's fault) and verify.
Screenshots go to test-artifacts/dashboard/ (or $VIGIL_TEST_ARTIFACTS)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from vigil.demo.autoscale import StorefrontScaling
from vigil.demo.fleet import Fleet
from vigil.demo.run import free_port
from vigil.demo.sinks import Sinks

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
KEY = "dashboard-test-key-0123456789"
START_TIMEOUT_S = 150.0  # vigil's first start compiles its detectors: slow on a loaded 2-core machine
UI_TIMEOUT_MS = 60_000
PHONE = {"width": 390, "height": 844}
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
SCALING = StorefrontScaling(mode="reactive", min_replicas=1, max_replicas=3, target_rps=5.0, sync_period_s=2.0,
                            ready_timeout_s=30.0)

playwright_sync = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (scripts/test-services.sh installs it)", allow_module_level=True)


def artifacts() -> Path:
    root = Path(os.environ.get("VIGIL_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
    out = root / "dashboard"
    out.mkdir(parents=True, exist_ok=True)
    return out


class VigilServer:
    """`vigil up`'s server (run_server: engine and API on one event loop, a real socket on loopback) in
    a thread of this process: storefront's replicas, started by vigil's process actuator, belong to
    the fleet's process, as they do in `vigil demo`."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.url: str | None = None
        self.failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="vigil-server", daemon=True)

    async def _main(self) -> None:
        from vigil.config import load_config
        from vigil.runner import run_server

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            await run_server(load_config(self.config_path), on_ready=self._ready, stop=self._stop,
                             config_path=self.config_path)
        except BaseException as exc:  # reported by the fixture, which waits for readiness
            self.failed = exc

    def _ready(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> "VigilServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "vigil did not stop within 60 s"


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo fleet and a real vigil server watching it; yields its URL and the fleet."""
    work = tmp_path_factory.mktemp("dashboard")
    sinks = Sinks()  # the demo's real SMTP server and webhook receiver: where incidents are notified
    sinks.start()
    try:
        with Fleet(work / "fleet", load=False, seed=11, scaling=SCALING) as fleet:
            config = work / "vigil.yaml"
            text = fleet.vigil_config(server_port=free_port(), api_key=KEY, probe_interval_s=1,
                                      probe_timeout_s=0.8, scrape_interval_s=2,
                                      store_url=f"sqlite:///{work / 'vigil.db'}",
                                      alerting=sinks.receivers(group_wait="1s", group_interval="5s"))
            config.write_text(_with_approval_runbook(text, fleet.services["catalog"].admin_url))
            with VigilServer(config) as server:
                url = _wait_ready(server)
                _quiet_start(url)
                yield {"url": url, "fleet": fleet}
    finally:
        sinks.stop()


def _with_approval_runbook(text: str, catalog_fault_url: str) -> str:
    """The demo's config plus one runbook that waits for a person: catalog failing its probe is fixed
    by clearing its fault (an HTTP DELETE on its fault endpoint, a real call to the real service), once
    someone approves; verified by catalog's probes healthy for 3 s."""
    data = yaml.safe_load(text)
    # Each test's fault is its own incident: one resolved is not reopened by the next test's alerts.
    data.setdefault("incidents", {})["reopen_window"] = "0s"
    data["runbooks"] = [{
        "name": "clear-catalog-fault", "mode": "active", "description": "catalog fails its probe: clear its fault",
        "trigger": {"alertname": ["ProbeFailing"], "service": ["catalog"], "for": "3s"},
        "steps": [{"action": "http", "method": "DELETE", "url": catalog_fault_url}],
        "verify": {"probes_healthy": True, "for": "3s", "within": "60s"},
        "guards": {"approval": True, "min_confidence": 0.1}}]
    # payments' SLOs, for its error-budget panel: availability from its probe, latency from its histogram
    burn = [{"long": "1h", "short": "5m", "factor": 14.4}]
    payments = next(s for s in data["services"] if s["name"] == "payments")
    payments["rules"] += [
        {"kind": "slo", "name": "availability", "objective": 99, "window": "1d", "probe": "health", "burn_rates": burn},
        {"kind": "slo", "name": "fast", "objective": 95, "window": "1d", "burn_rates": burn,
         "latency": {"series": "http_request_duration_seconds", "under": 0.3}}]
    return yaml.safe_dump(data, sort_keys=False)


def _wait_ready(server: VigilServer) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while server.url is None:
        assert server.failed is None, f"vigil did not start: {server.failed!r}"
        assert time.monotonic() < deadline, f"vigil not up within {START_TIMEOUT_S:g}s"
        time.sleep(0.2)
    while httpx.get(f"{server.url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, f"vigil not ready within {START_TIMEOUT_S:g}s"
        time.sleep(0.2)
    return server.url


def _quiet_start(url: str) -> None:
    """Every service healthy, and what the start-up opened (storefront is down until vigil started its
    first replica) resolved by hand: the incident the test opens is then the fault's."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=10) as api:
        while {s["health"] for s in api.get("/api/v1/services").json()["services"]} != {"healthy"}:
            assert time.monotonic() < deadline, api.get("/api/v1/services").text
            time.sleep(0.5)
        for inc in api.get("/api/v1/incidents", params={"status": "active"}).json()["incidents"]:
            api.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"note": "start-up"}).raise_for_status()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, url: str, **context: Any) -> Any:
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # Console errors, but for the answers of the endpoints the page probes for (404 for a feature this vigil
    # does not have, 401 for "no session yet"): the browser logs those itself.
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.problems = problems
    page.goto(url + "/")
    return page


def _sign_in(page: Any, key: str = KEY) -> None:
    page.fill("#login-key", key)
    page.click("#login button[type=submit]")


def test_the_page_is_offline_and_forbids_inline_code(vigil: dict[str, Any]) -> None:
    r = httpx.get(vigil["url"] + "/", timeout=10)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "http://" not in r.text and "https://" not in r.text  # nothing fetched from elsewhere
    assert "<script>" not in r.text and " style=" not in r.text
    lib = httpx.get(vigil["url"] + "/ui/vendor/uPlot.esm.js", timeout=10)
    assert lib.status_code == 200 and "uPlot" in lib.text
    assert "MIT" in httpx.get(vigil["url"] + "/ui/vendor/uPlot.LICENSE", timeout=10).text


def test_a_wrong_key_is_refused_and_nothing_is_shown(vigil: dict[str, Any], browser: Any) -> None:
    page = _page(browser, vigil["url"])
    _sign_in(page, "not-the-key-at-all")
    page.wait_for_selector("#login-error:has-text('not accepted')")
    assert page.is_visible("#login") and page.locator("#services").count() == 0
    page.context.close()


def test_sign_in_see_services_break_one_acknowledge_its_incident(vigil: dict[str, Any], browser: Any) -> None:
    shots = artifacts()
    page = _page(browser, vigil["url"], viewport={"width": 1280, "height": 900})
    _sign_in(page)
    page.wait_for_selector("body[data-ready='1']")
    for name in ("catalog", "payments", "storefront"):
        page.wait_for_selector(f"#services a.svc[data-service='{name}']")
        assert page.locator(f"svg.depmap g[data-service='{name}']").count() == 1
    page.wait_for_selector("#services a.svc[data-service='payments'][data-health='healthy']")
    page.wait_for_selector("#live.on")  # the live stream is connected
    # Signed in with a session: an HttpOnly cookie the page's script cannot read, the key kept nowhere.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["vigil_session"]["httpOnly"] and cookies["vigil_session"]["sameSite"] == "Strict"
    assert "vigil_session" not in page.evaluate("document.cookie")
    assert page.evaluate("sessionStorage.getItem('vigil.key')") is None
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    admin = vigil["fleet"].services["payments"].admin_url
    httpx.post(admin, json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        # Live updates redraw the overview: payments turns unhealthy and its incident appears.
        page.wait_for_selector("#services a.svc[data-service='payments'][data-health='unhealthy']")
        page.wait_for_selector("svg.depmap g.unhealthy[data-service='payments']")
        link = page.locator("#open-incidents a[href^='#/incident/']", has_text="payments").first
        link.wait_for()
        page.screenshot(path=str(shots / "overview-fault.png"), full_page=True)
        link.click()
        page.wait_for_selector("#incident-head h1")
        assert "payments" in page.inner_text("#incident-detail")
        page.wait_for_selector("#timeline li")
        page.click("#ack")
        page.wait_for_selector("#incident-actions[data-status='acknowledged']")
        page.wait_for_selector("#timeline li:has-text('acknowledged')")
        # A note with markup in it is shown as the text it is, and runs nothing.
        page.fill("#incident-actions textarea", HOSTILE)
        page.click("#incident-actions button:has-text('Add note')")
        page.wait_for_selector("#timeline li:has-text('onerror')")
        assert HOSTILE in page.inner_text("#timeline")
        assert page.locator("#timeline img").count() == 0 and page.evaluate("window.pwned") is None
        page.screenshot(path=str(shots / "incident.png"), full_page=True)
    finally:
        httpx.delete(admin, timeout=5)
    incident_id = page.url.rsplit("/", 1)[1]
    body = httpx.get(f"{vigil['url']}/api/v1/incidents/{incident_id}", headers={"X-API-Key": KEY}, timeout=10).json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"], body  # the API agrees with the page
    assert not page.problems, page.problems
    page.context.close()


def test_signing_out_ends_the_session(vigil: dict[str, Any], browser: Any) -> None:
    page = _page(browser, vigil["url"])
    _sign_in(page)
    page.wait_for_selector("body[data-ready='1']")
    page.click("#logout")
    page.wait_for_selector("#login-key")
    status = page.evaluate("fetch('/api/v1/services').then((r) => r.status)")
    assert status == 401 and not page.is_visible("#nav")
    page.reload()  # and it stays signed out
    page.wait_for_selector("#login-key")
    page.context.close()


def test_storefront_shows_its_replicas_and_metrics(vigil: dict[str, Any], browser: Any) -> None:
    page = _page(browser, vigil["url"], viewport={"width": 1280, "height": 900})
    _sign_in(page)
    page.wait_for_selector("body[data-ready='1']")
    page.click("#services a.svc[data-service='storefront']")
    page.wait_for_selector("#scaling .chart.replicas canvas")  # uPlot drew the replica chart
    assert int(page.get_attribute("#scaling .chart.replicas", "data-decisions") or 0) >= 1
    page.wait_for_selector("#metrics .chart canvas")
    page.screenshot(path=str(artifacts() / "service-storefront.png"), full_page=True)
    assert not page.problems, page.problems
    page.context.close()


def test_silences_are_created_and_expired_and_notifications_show_their_delivery(vigil: dict[str, Any],
                                                                               browser: Any) -> None:
    page = _page(browser, vigil["url"], viewport={"width": 1280, "height": 900})
    _sign_in(page)
    page.wait_for_selector("body[data-ready='1']")
    page.click("nav a[href='#/silences']")
    page.fill("#silence-form input[name=matchers]", '{service="catalog"}')
    page.fill("#silence-form input[name=comment]", "dashboard test: catalog maintenance")
    page.click("#silence-form button[type=submit]")
    row = page.locator("tr", has_text="catalog maintenance")
    row.locator("td", has_text="active").wait_for()
    page.screenshot(path=str(artifacts() / "silences.png"), full_page=True)
    row.locator("button:has-text('Expire')").click()
    page.locator("tr", has_text="catalog maintenance").locator("td", has_text="expired").wait_for()
    # The fault's incident was notified by mail and webhook (the test before): delivered, on the page.
    page.click("nav a[href='#/notifications']")
    page.wait_for_selector("td:has-text('delivered')")
    page.screenshot(path=str(artifacts() / "notifications.png"), full_page=True)
    assert not page.problems, page.problems
    page.context.close()


def test_a_phone_sized_screen_and_the_config_view(vigil: dict[str, Any], browser: Any) -> None:
    page = _page(browser, vigil["url"], viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    _sign_in(page)
    page.wait_for_selector("body[data-ready='1']")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(artifacts() / "phone-overview.png"), full_page=True)
    page.click("nav a[href='#/config']")
    page.wait_for_selector("#config dl")
    text = page.text_content("#config") or ""  # folded sections included
    assert "api_keys" in text and "***" in text and KEY not in text  # the API key is masked
    page.screenshot(path=str(artifacts() / "phone-config.png"), full_page=True)
    # A service page with its error budget, heatmaps and latency map: still no sideways scrolling.
    page.click("nav a[href='#/']")
    page.click("#services a.svc[data-service='payments']")
    page.wait_for_selector("#slo .chart.budget canvas")
    page.wait_for_selector("#heatmaps .heat")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the service page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(artifacts() / "phone-service.png"), full_page=True)
    assert not page.problems, page.problems
    page.context.close()


def test_approve_a_pending_action_and_watch_it_run_and_verify(vigil: dict[str, Any], browser: Any) -> None:
    shots = artifacts()
    _quiet_start(vigil["url"])  # the payments incident of the test before is over: catalog's will be its own
    page = _page(browser, vigil["url"], viewport={"width": 1280, "height": 900})
    _sign_in(page)
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#nav-more:not([hidden])")  # this vigil has the actions endpoints
    fault = vigil["fleet"].services["catalog"].admin_url
    httpx.post(fault, json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        # The runbook matched and waits for a person: the overview lists it, live, with its incident.
        row = page.locator("#recent-actions tr[data-state='pending']", has_text="clear-catalog-fault").first
        row.wait_for()
        assert row.locator("[data-verification='not_started']").count() == 1
        action_id = row.get_attribute("data-action")
        page.screenshot(path=str(shots / "overview-pending-action.png"), full_page=True)
        row.locator("a[href^='#/incident/']").click()
        page.wait_for_selector("#incident-head h1")
        pending = page.locator(f"#incident-remediation tr[data-action='{action_id}'][data-state='pending']")
        pending.wait_for()
        assert "catalog" in page.inner_text("#incident-detail")
        page.screenshot(path=str(shots / "incident-pending-action.png"), full_page=True)
        pending.locator(f"button[data-approve='{action_id}']").click()
        # Approved, run (the DELETE cleared the fault), verified: the page follows it over the live stream.
        done = page.locator(f"#incident-remediation tr[data-action='{action_id}'][data-state='succeeded']")
        done.wait_for()
        done.locator("[data-verification='passed']").wait_for()
        assert "steady for 3s" in done.inner_text()
        page.wait_for_selector("#timeline li:has-text('approved by')")
        page.screenshot(path=str(shots / "incident-action-verified.png"), full_page=True)
    finally:
        httpx.delete(fault, timeout=5)
    api = httpx.get(f"{vigil['url']}/api/v1/actions/{action_id}", headers={"X-API-Key": KEY}, timeout=10).json()
    assert api["state"] == "succeeded" and api["decided_by"] and api["verification"]["state"] == "passed", api
    assert [(s["kind"], s["state"]) for s in api["steps"]] == [("http", "succeeded")]
    # The live stream told the page each move as it happened: the overview lists them, newest first.
    page.click("nav a[href='#/']")
    page.wait_for_selector(f"#action-moves li[data-action='{action_id}'][data-state='succeeded']")
    told = [m.split(": ", 1)[1].split(" · ")[0] for m in page.locator(
        f"#action-moves li[data-action='{action_id}']").all_inner_texts()]
    assert told[:3] == ["verifying → succeeded", "running → verifying", "approved → running"], told
    # "Actions & audit": every action, the runbooks, and the audit log searched by the server.
    page.click("#nav-more")
    page.wait_for_selector(f"tr[data-action='{action_id}'][data-state='succeeded'] [data-verification='passed']")
    # the section redraws on every live move ("loading…" for a moment): wait for the runbook's name
    page.locator(f"tr[data-action='{action_id}']", has_text="clear-catalog-fault").first.wait_for()
    page.wait_for_selector("#audit td:has-text('action.running')")
    page.fill("#audit input[type=search]", "action.approved")
    page.locator("#audit tbody tr").first.wait_for()
    page.wait_for_selector("#audit:not(:has(td:has-text('action.running')))")  # the search narrowed it
    whats = page.locator("#audit tbody tr td:nth-child(3)").all_inner_texts()
    assert whats and set(whats) == {"action.approved"}, whats
    assert "demo" in page.inner_text("#audit tbody tr")  # who approved: the key's name
    page.screenshot(path=str(shots / "actions-and-audit.png"), full_page=True)
    assert not page.problems, page.problems
    page.context.close()


def test_a_service_page_shows_its_error_budget_heatmaps_and_latency_and_reads_roll_ups_for_a_year(
        vigil: dict[str, Any], browser: Any) -> None:
    page = _page(browser, vigil["url"], viewport={"width": 1280, "height": 900})
    _sign_in(page)
    page.wait_for_selector("body[data-ready='1']")
    page.click("#services a.svc[data-service='payments']")
    # The error budget of each SLO: payments failed its probe in an earlier test, so some is spent.
    page.wait_for_selector("#slo .budget-card[data-slo='availability']")
    left = float(page.get_attribute("#slo .budget-card[data-slo='availability']", "data-remaining") or "nan")
    assert left < 1.0, left  # the fault spent some of it
    api = httpx.get(f"{vigil['url']}/api/v1/services/payments/slo", headers={"X-API-Key": KEY}, timeout=10).json()
    [availability] = [x for x in api["slos"] if x["name"] == "availability"]
    # what the page shows is what the API says (a moment later: the window has moved on since)
    assert abs(availability["remaining"] - left) <= 0.25 * abs(left) + 0.05, (availability["remaining"], left)
    page.wait_for_selector("#slo .budget-card[data-slo='fast'] .chart.budget")
    page.wait_for_selector("#slo .chart.budget canvas")
    # CPU and memory by hour of day, and the latency distribution from its histogram's quantiles.
    for kind in ("cpu", "memory"):  # a cell with data: this hour's
        page.wait_for_selector(f"#heatmaps .heatmap[data-kind='{kind}'] .heat span:not(.lab):not(.none)")
    histogram = "http_request_duration_seconds"
    page.wait_for_selector(f"#latency .latency-map[data-histogram='{histogram}'][data-drawn='1'] canvas")
    assert int(page.get_attribute("#latency .latency-map", "data-steps") or 0) >= 1
    page.screenshot(path=str(artifacts() / "service-payments-slo.png"), full_page=True)
    # A year: the charts ask for 6-hour steps, which the API answers from the hourly roll-ups.
    page.click("#ranges a:has-text('1y')")
    page.wait_for_selector("#metrics[data-range='1y'] .chart[data-resolution='1h'] canvas")
    assert page.locator("#metrics .chart[data-resolution='raw']").count() == 0
    page.screenshot(path=str(artifacts() / "service-payments-year.png"), full_page=True)
    assert not page.problems, page.problems
    page.context.close()
