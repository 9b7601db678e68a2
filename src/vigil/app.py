"""build_app(config) -> (ASGI app, engine): wiring only, no globals."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import FastAPI

from vigil.clock import Clock
from vigil.config import VigilConfig
from vigil.engine import Engine
from vigil.web.application import api_app
from vigil.web.auth import ApiKeys


def build_app(config: VigilConfig, clock: Clock | None = None, store: Any = None,
              collectors: Any = None, stages: Any = None) -> tuple[FastAPI, Engine]:
    if store is None:
        from vigil.store import open_store
        store = open_store(config.store.url, config.store.retention)
    engine = Engine(config, store, clock=clock, collectors=collectors, stages=stages)
    if stages is None:  # the default loop: detection after health, before record
        from vigil.stages.detection import DetectionStage
        engine.insert_stage(DetectionStage(config, store, engine.writer, engine.clock))
        from vigil.stages.rules import RulesStage
        engine.insert_stage(RulesStage(config, store, engine.clock, engine.writer))
        from vigil.stages.forecasting import ForecastingStage  # after rules: it reads their drift signals
        engine.insert_stage(ForecastingStage(config, store, engine.writer, engine.clock))
        from vigil.stages.scaling import ScalingStage
        engine.insert_stage(ScalingStage(config, store, engine.writer, engine.clock))
    keys = ApiKeys({k.name: k.key.get_secret_value() for k in config.server.api_keys})
    app = api_app(engine, keys)
    return app, engine


async def serve(app: FastAPI, host: str, port: int, ready: asyncio.Event | None = None) -> None:
    """Run uvicorn until cancelled. The engine's lifecycle is the caller's, not the server's."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                            access_log=False)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # the caller owns signals
    task = asyncio.create_task(server.serve())
    try:
        if ready is not None:
            while not server.started and not task.done():
                await asyncio.sleep(0.02)
            ready.set()
        await task
    except asyncio.CancelledError:
        server.should_exit = True
        await asyncio.wait_for(asyncio.shield(task), timeout=5)
        raise
