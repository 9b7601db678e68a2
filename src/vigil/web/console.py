"""The web dashboard: a page at `/` and its files under `/ui/` (plain ES modules, CSS and the vendored
uPlot chart library, all in vigil/web/dashboard/), so it works offline with no build step. The page
talks to the same REST API as everyone else; its policy forbids inline scripts and styles."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

DASHBOARD = Path(__file__).parent / "dashboard"
ASSETS_PATH = "/ui"
# Scripts, styles and connections from vigil itself only; uPlot sizes its elements through the CSSOM
# (element.style), which a style-src policy does not forbid, so no 'unsafe-inline' is needed.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def install_console(app: FastAPI) -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=DASHBOARD), name="dashboard")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(DASHBOARD / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
