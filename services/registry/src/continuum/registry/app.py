"""``create_app(settings)``: the registry's HTTP API and its Kafka consumer in one process.

The broker is started and stopped in FastAPI's lifespan; the ``ModelTrained`` subscriber
is registered on it here, so ``TestKafkaBroker`` can drive the same app in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.routing import Route

from continuum.contracts import ModelTrained
from continuum.contracts.topics import MODELS_TRAINED
from continuum.kafka import build_broker, watch_consumer_lag
from continuum.registry.api import audit, models, pipelines
from continuum.registry.api.validation_errors import validation_error_response
from continuum.registry.candidate_check import (
    ArtifactCandidateChecker,
    CandidateChecker,
    warm_up,
)
from continuum.registry.metrics import RegistryMetrics
from continuum.registry.model_intake import ModelIntake
from continuum.registry.service import RegistryService
from continuum.registry.settings import RegistrySettings
from continuum.registry.sql_store import SqlRegistryStore
from continuum.registry.store import (
    NoPreviousChampionError,
    NotFoundError,
    RegistryStore,
    StoreUnavailableError,
)
from continuum.runtime import Backoff, HealthEndpoint, any_error, broker_connected, retrying
from continuum.storage import open_store

SERVICE = "registry"
CONSUMER_GROUP = "continuum-registry"

logger = logging.getLogger(__name__)


async def _start_broker(broker: KafkaBroker, timeout_seconds: float) -> None:
    """Kafka may come up a little after us: retry with backoff rather than die at once."""

    async def attempt() -> None:
        try:
            await broker.start()
        except Exception:
            # Close what the failed attempt opened (its producer) before trying again.
            with contextlib.suppress(Exception):
                await broker.stop()
            raise

    await retrying(
        attempt,
        what="connecting to Kafka",
        backoff=Backoff(first_seconds=0.5, max_seconds=10.0),
        within_seconds=timeout_seconds,
        retryable=any_error,
    )


def _error_handlers(app: FastAPI) -> None:
    def handler(code: int) -> Any:
        async def handle(_request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=code)

        return handle

    app.add_exception_handler(NotFoundError, handler(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(NoPreviousChampionError, handler(status.HTTP_409_CONFLICT))
    app.add_exception_handler(StoreUnavailableError, handler(status.HTTP_503_SERVICE_UNAVAILABLE))
    app.add_exception_handler(RequestValidationError, validation_error_response)


def create_app(
    settings: RegistrySettings,
    *,
    store: RegistryStore | None = None,
    checker: CandidateChecker | None = None,
) -> FastAPI:
    """The registry app. ``store``/``checker`` default to the settings' database/artifacts."""
    registry = CollectorRegistry()
    metrics = RegistryMetrics.create(registry)
    broker = build_broker(settings.kafka, service=SERVICE, registry=registry)
    watch_consumer_lag(registry, service=SERVICE, broker=broker)
    store = store or SqlRegistryStore.from_url(settings.resolved_database_url())
    checker = checker or ArtifactCandidateChecker(open_store(settings.artifact_root))
    service = RegistryService(store, broker, metrics)
    intake = ModelIntake(service, checker)

    @broker.subscriber(MODELS_TRAINED, group_id=CONSUMER_GROUP, auto_offset_reset="earliest")
    async def on_model_trained(event: ModelTrained) -> None:
        await intake.handle(event)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.db(service.store.setup)
        await service.load_gauges()
        await _start_broker(broker, settings.kafka_start_timeout_seconds)
        outbox = asyncio.create_task(service.outbox_loop(settings.outbox_poll_seconds))
        warming = asyncio.create_task(asyncio.to_thread(warm_up))
        try:
            yield
        finally:
            outbox.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await outbox
            with contextlib.suppress(Exception):
                await warming  # a thread cannot be cancelled; let the import finish
            await broker.stop()
            await service.db(service.store.close)

    app = FastAPI(
        title="Continuum registry",
        description="Pipelines as code, model versions, the promotion gate and the audit log.",
        version=version("continuum-registry"),
        lifespan=lifespan,
    )
    app.state.registry = service
    app.state.token = settings.api_token
    app.state.broker = broker
    app.state.metrics_registry = registry
    for router in (pipelines.router, models.router, audit.router):
        app.include_router(router)
    _error_handlers(app)

    async def health() -> dict[str, Any]:
        """Ok when the database answers and Kafka is connected."""
        checks: dict[str, str] = {}
        try:
            await service.db(service.store.ping)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc}"
        checks["kafka"] = "ok" if await broker_connected(broker) else "not connected"
        healthy = all(value == "ok" for value in checks.values())
        return {"status": "ok" if healthy else "unhealthy", "service": SERVICE, **checks}

    app.router.routes.append(Route("/health", HealthEndpoint(health), methods=["GET"]))

    # A route, not a mount: a Starlette mount answers /metrics with a 307 to /metrics/,
    # which a plain scrape or curl does not follow.
    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
