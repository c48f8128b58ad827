"""``create_app(settings)``: ingest as a broker-only ASGI app with ``/health`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker

from continuum.ingest.bootstrap import IngestParts, build
from continuum.ingest.settings import IngestSettings
from continuum.registry_client import RegistryClient
from continuum.runtime import tune_gc_for_throughput
from continuum.runtime.health import observability_routes
from continuum.storage import ObjectStore


def create_app(
    settings: IngestSettings | None = None,
    *,
    registry: RegistryClient | None = None,
    store: ObjectStore | None = None,
    broker: KafkaBroker | None = None,
) -> AsgiFastStream:
    """Build the app; nothing connects until the ASGI lifespan starts."""
    parts = build(settings or IngestSettings(), registry=registry, store=store, broker=broker)
    return app_for(parts)


def app_for(parts: IngestParts) -> AsgiFastStream:
    """Serve wired parts: the service runs in the app's lifespan."""

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        # Start-up is done: what exists now lives as long as the process (gc_tuning).
        tune_gc_for_throughput(parts.settings.gc_gen0_threshold)
        await parts.service.start()
        try:
            yield
        finally:
            await parts.service.stop()

    return AsgiFastStream(
        parts.broker,
        asgi_routes=observability_routes(parts.metrics, parts.service.health),
        lifespan=lifespan,
    )
