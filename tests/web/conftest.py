from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.testing import FakeClock

API_KEY = "test-key-0123456789"

CONFIG = f"""
store:
  url: sqlite:///{{db}}
server:
  api_keys:
    - name: tests
      key: {API_KEY}
services:
  - name: storefront
    depends_on: [catalog]
  - name: catalog
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
async def api(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    cfg = parse_config(CONFIG.format(db=tmp_path / "vigil.db"), env={})
    app, engine = build_app(cfg, clock=clock, collectors=[])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        await engine.start()
        try:
            yield client, engine
        finally:
            await engine.stop()
            engine.store.close()
