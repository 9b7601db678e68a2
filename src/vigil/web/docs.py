"""The API docs UI at /docs: Swagger UI from files installed with the package (vendored from
swagger-ui-dist into vigil/web/static/swagger-ui), so it works offline and fetches nothing from
elsewhere at run time."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI = Path(__file__).parent / "static" / "swagger-ui"
STATIC_PATH = "/docs/static"


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets; the app must be built with docs_url=None and redoc_url=None."""
    app.mount(STATIC_PATH, StaticFiles(directory=SWAGGER_UI), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js", swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon-32x32.png",
            # Swagger UI would otherwise send the description to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False})
        # The page starts Swagger UI with one inline script: allowed by its hash, no other inline script.
        body = bytes(page.body)
        start = body.index(b"<script>", body.index(b"swagger-ui-bundle.js")) + len(b"<script>")
        digest = base64.b64encode(hashlib.sha256(body[start:body.index(b"</script>", start)]).digest()).decode()
        page.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'sha256-{digest}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        return page
