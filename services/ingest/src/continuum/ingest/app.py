"""The ingest app: a broker-only service with ``/health`` and ``/metrics``.

The source topics are consumed by a plain aiokafka consumer in a background task (rows
are buffered across messages, so FastStream's per-message ack does not fit); the
FastStream broker follows ``continuum.pipelines.changed`` and serves the HTTP routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.asgi import AsgiFastStream
from prometheus_client import CollectorRegistry

from continuum.contracts import PipelineChanged
from continuum.contracts.topics import PIPELINES_CHANGED
from continuum.ingest.metrics import SERVICE, IngestMetrics
from continuum.ingest.service import IngestService
from continuum.ingest.settings import IngestSettings
from continuum.kafka import build_broker, watch_consumer_lag
from continuum.runtime.health import observability_routes


def create_app(settings: IngestSettings | None = None) -> AsgiFastStream:
    """Build the app; nothing connects until the ASGI lifespan starts."""
    settings = settings or IngestSettings()
    registry = CollectorRegistry()
    service = IngestService(settings, IngestMetrics(registry))
    broker = build_broker(settings.kafka, service=SERVICE, registry=registry)
    # One lag metric for both consumers: the spec subscriber and the source-topic consumer.
    lag = watch_consumer_lag(registry, service=SERVICE, broker=broker)
    lag.watch(settings.group_id, lambda: service.loop.consumer)

    @broker.subscriber(
        PIPELINES_CHANGED, group_id=settings.spec_group_id, auto_offset_reset="earliest"
    )
    async def pipeline_changed(event: PipelineChanged) -> None:
        await service.sync.on_changed(event)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = AsgiFastStream(
        broker,
        asgi_routes=observability_routes(registry, service.health),
        lifespan=lifespan,
    )
    app.state = service  # type: ignore[attr-defined]  # handy for tests and debugging
    return app
