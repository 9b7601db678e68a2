"""The API docs UI at /docs: Swagger UI from files installed with the package (vendored from
swagger-ui-dist into vigil/web/static/swagger-ui), so it works offline and fetches nothing from
elsewhere at run time."""

from __future__ import annotations

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
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js", swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon-32x32.png",
            # Swagger UI would otherwise send the description to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False})
