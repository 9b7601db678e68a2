"""The OpenAPI description says what clients and fuzzers need (security schemes, every error status,
the push request body), and /docs is served from files installed with the package."""

from __future__ import annotations

import glob
import re
import tomllib
from pathlib import Path

import httpx

from vigil.web.docs import SWAGGER_UI
from vigil.web.scopes import PUBLIC

ROOT = Path(__file__).resolve().parents[2]


async def test_security_schemes_and_error_responses(api) -> None:
    client, _ = api
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"}
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    seen: set[str] = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            seen |= codes
            assert "429" in codes, (method, path)  # the concurrency cap answers every route
            assert "Retry-After" in op["responses"]["429"]["headers"]
            if (method.upper(), path) in PUBLIC or path == "/metrics":  # links: the token is the authorisation
                assert "security" not in op, (method, path)
                continue
            assert op["security"] == [{"bearer": []}, {"apiKey": []}, {"session": []}], (method, path)
            assert {"401", "503"} <= codes, (method, path)
            assert "Retry-After" in op["responses"]["503"]["headers"]
    assert {"400", "401", "404", "409", "413", "415", "422", "429", "503"} <= seen
    error_schema = spec["components"]["schemas"]["ErrorBody"]
    assert error_schema["required"] == ["detail"]


async def test_push_request_body_is_described_for_every_content_type(api) -> None:
    client, _ = api
    push = (await client.get("/openapi.json")).json()["paths"]["/api/v1/samples"]["post"]
    body = push["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"application/json", "text/plain", "application/openmetrics-text"}
    batch = body["content"]["application/json"]["schema"]
    item_kinds = batch["properties"]["samples"]["items"]["oneOf"]
    assert [sorted(k["required"]) for k in item_kinds] == [["series", "value"], ["name", "value"]]
    assert body["content"]["text/plain"]["schema"]["type"] == "string"
    assert {"400", "413", "415"} <= set(push["responses"])


async def test_docs_ui_is_served_from_packaged_files(api) -> None:
    client, _ = api
    async with httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test") as anon:
        page = await anon.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert refs and all(ref.startswith("/docs/static/") for ref in refs), refs
        assert "cdn." not in page.text and '"validatorUrl": null' in page.text
        for ref, kind in (("/docs/static/swagger-ui-bundle.js", "javascript"),
                          ("/docs/static/swagger-ui.css", "text/css"),
                          ("/docs/static/favicon-32x32.png", "image/png")):
            r = await anon.get(ref)
            assert r.status_code == 200 and kind in r.headers["content-type"], ref
            assert r.content == (SWAGGER_UI / ref.rsplit("/", 1)[1]).read_bytes()
        assert (await anon.get("/redoc")).status_code == 404  # it would load its script from a CDN
        assert (await anon.get("/docs/static/../../app.py")).status_code == 404


def test_vendored_files_are_package_data_with_their_licence() -> None:
    """setuptools globs package-data patterns from the package folder: every vendored file must match."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["vigil"]
    package = ROOT / "src" / "vigil"
    matched = {Path(p) for pattern in patterns for p in glob.glob(pattern, root_dir=package, recursive=True)}
    vendored = {p.relative_to(package) for p in SWAGGER_UI.iterdir()}
    assert {"LICENSE", "NOTICE", "swagger-ui-bundle.js", "swagger-ui.css"} <= {p.name for p in vendored}
    assert vendored <= matched, vendored - matched
    assert "Apache License" in (SWAGGER_UI / "LICENSE").read_text()
