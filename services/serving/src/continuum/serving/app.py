"""``create_app(settings)``: the FastAPI app over the parts ``bootstrap.build`` wires."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from continuum.registry_client import RegistryClient
from continuum.runtime import BodySizeLimit
from continuum.serving.bootstrap import ServingParts, build
from continuum.serving.endpoint import PredictFastPath, PredictHandler
from continuum.serving.oip import build_oip_router
from continuum.serving.routes import build_router
from continuum.serving.settings import ServingSettings
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)


def create_app(
    settings: ServingSettings | None = None,
    *,
    registry: RegistryClient | None = None,
    store: ObjectStore | None = None,
    broker: KafkaBroker | None = None,
) -> FastAPI:
    """The serving app. Nothing connects until its lifespan starts."""
    parts = build(settings or ServingSettings(), registry=registry, store=store, broker=broker)
    return app_for(parts)


def app_for(parts: ServingParts) -> FastAPI:
    """Serve wired parts: the broker, prediction log and registry sync run in the lifespan."""
    settings, broker, log, manager = parts.settings, parts.broker, parts.log, parts.manager

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Consumers first, registry second: a promotion published while we read the
        # registry is then seen by one or the other (and the reconciler covers the rest).
        await broker.start()
        log.start()
        parts.shadow.start()
        tasks = [asyncio.create_task(manager.sync_all(), name="registry-sync")]
        if settings.reconcile_seconds > 0:
            tasks.append(
                asyncio.create_task(
                    manager.run_reconciler(settings.reconcile_seconds), name="reconcile"
                )
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            # HTTP has stopped: publish the predictions still queued, then disconnect.
            await parts.shadow.close()
            await log.close(settings.log_drain_seconds)
            await broker.stop()
            await parts.registry.aclose()
            await asyncio.to_thread(parts.features.close)

    app = FastAPI(
        title="Continuum serving",
        description="Predictions from each pipeline's champion, hot-swapped on promotion.",
        lifespan=lifespan,
    )
    handler = PredictHandler(parts.table, parts.predictor, parts.metrics)
    app.include_router(build_router(parts, handler))
    app.include_router(build_oip_router(parts))  # the Open Inference Protocol (V2)
    app.add_middleware(PredictFastPath, handler=handler)
    # Outside every route and the fast path: a body too large is refused before it is read.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        setting=ServingSettings.env_name("max_body_bytes"),
    )
    return app
