"""``create_app(settings)``: the FastAPI app, its Kafka broker and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from continuum.kafka import build_broker, watch_consumer_lag
from continuum.registry_client import RegistryClient
from continuum.serving.manager import ModelManager
from continuum.serving.metrics import ServingMetrics
from continuum.serving.models import ModelTable
from continuum.serving.prediction_log import PredictionLog
from continuum.serving.predictor import Predictor
from continuum.serving.routes import build_router
from continuum.serving.settings import ServingSettings
from continuum.serving.state import ServingState
from continuum.serving.subscribers import register_subscribers
from continuum.storage import open_store

logger = logging.getLogger(__name__)


def create_app(
    settings: ServingSettings | None = None,
    *,
    registry_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The serving app. Nothing connects until its lifespan starts.

    ``registry_transport`` lets tests answer registry calls in memory.
    """
    settings = settings or ServingSettings()
    metrics = ServingMetrics(CollectorRegistry())
    broker = build_broker(settings.kafka, service="serving", registry=metrics.registry)
    watch_consumer_lag(metrics.registry, service="serving", broker=broker)
    token = settings.registry_bearer
    registry = RegistryClient(settings.registry_url, token=token, transport=registry_transport)
    table = ModelTable()
    manager = ModelManager(
        table,
        registry,
        open_store(settings.artifact_root),
        metrics,
        retry_seconds=settings.registry_retry_seconds,
        batch_max_rows=settings.batch_max_rows,
        inline_max_rows=settings.inline_max_rows,
    )
    log = PredictionLog(
        broker, metrics, max_size=settings.log_queue_size, batch_size=settings.log_batch_size
    )
    state = ServingState(
        settings=settings,
        metrics=metrics,
        broker=broker,
        registry=registry,
        table=table,
        manager=manager,
        log=log,
        predictor=Predictor(log, max_records=settings.max_records),
    )
    register_subscribers(broker, manager, group_id=settings.consumer_group)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Consumers first, registry second: a promotion published while we read the
        # registry is then seen by one or the other (and the reconciler covers the rest).
        await broker.start()
        log.start()
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
            await log.close(settings.log_drain_seconds)
            await broker.stop()
            await registry.aclose()

    app = FastAPI(
        title="Continuum serving",
        description="Predictions from each pipeline's champion, hot-swapped on promotion.",
        lifespan=lifespan,
    )
    app.state.serving = state
    app.include_router(build_router(state))
    return app
