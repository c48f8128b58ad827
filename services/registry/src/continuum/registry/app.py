"""``create_app(settings)``: the registry's HTTP API and its Kafka consumer in one process.

``bootstrap.build`` wires the parts (the ``ModelTrained`` subscriber among them, so
``TestKafkaBroker`` can drive the same app in tests); the broker is started and stopped in
FastAPI's lifespan here.
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
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route

from continuum.registry.api import audit, models, pipelines, rollouts
from continuum.registry.api.validation_errors import validation_error_response
from continuum.registry.bootstrap import SERVICE, RegistryParts, build
from continuum.registry.candidate_check import (
    CandidateScorer,
    warm_up,
)
from continuum.registry.settings import RegistrySettings
from continuum.registry.store import (
    NoPreviousChampionError,
    NotFoundError,
    RegistryStore,
    RolloutConflictError,
    StoreUnavailableError,
)
from continuum.runtime import (
    Backoff,
    BodySizeLimit,
    HealthEndpoint,
    any_error,
    broker_connected,
    retrying,
)
from continuum.storage import open_store

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
    app.add_exception_handler(RolloutConflictError, handler(status.HTTP_409_CONFLICT))
    app.add_exception_handler(StoreUnavailableError, handler(status.HTTP_503_SERVICE_UNAVAILABLE))
    app.add_exception_handler(RequestValidationError, validation_error_response)


def create_app(
    settings: RegistrySettings,
    *,
    store: RegistryStore | None = None,
    broker: KafkaBroker | None = None,
    scorer: CandidateScorer | None = None,
) -> FastAPI:
    """The registry app. ``store``/``scorer`` default to the settings' database/artifacts."""
    return app_for(build(settings, store=store, broker=broker, scorer=scorer))


def app_for(parts: RegistryParts) -> FastAPI:
    """The HTTP API over wired parts; the database, broker and outbox run in the lifespan."""
    settings, broker, service, registry = parts.settings, parts.broker, parts.service, parts.metrics

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.db(service.store.setup)
        await service.load_gauges()
        await _start_broker(broker, settings.kafka_start_timeout_seconds)
        outbox = asyncio.create_task(service.outbox_loop(settings.outbox_poll_seconds))
        clock = asyncio.create_task(parts.rollouts.clock_loop(settings.rollout_tick_seconds))
        warming = asyncio.create_task(asyncio.to_thread(warm_up))
        try:
            yield
        finally:
            for task in (outbox, clock):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
    app.state.rollouts = parts.rollouts
    app.state.token = settings.api_token
    app.state.broker = broker
    app.state.metrics_registry = registry
    # Reports are read from the artifact store the runs wrote them to (sha256-checked).
    app.state.artifacts = open_store(settings.artifact_root)
    for router in (pipelines.router, models.router, rollouts.router, audit.router):
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
    # Outside every route: a body too large is refused before anything reads it.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        setting=RegistrySettings.env_name("max_body_bytes"),
    )

    # A route, not a mount: a Starlette mount answers /metrics with a 307 to /metrics/,
    # which a plain scrape or curl does not follow.
    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
